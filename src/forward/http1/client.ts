/**
 * A small HTTP/1.1 keep-alive client on Bun.connect, for the forwarder's POSTs to Sentry: it
 * costs the client about two thirds of fetch's CPU per request (bench/upstream-client.ts).
 * Per origin, a pool of at most `maxConnections` connections, each carrying one request at a
 * time; a request with no free connection waits for one. Every failure to get an answer (refused,
 * reset, closed mid-answer, malformed answer, TLS not trusted) rejects with an Http1NetworkError;
 * an abort rejects with the signal's reason, as fetch does.
 *
 * A request that finds its idle connection already closed, with no byte of it written, is sent
 * once more on another connection. One that was written and then lost its connection before any
 * answer is NOT resent here: Sentry may have it, so it is the forwarder's retry (which may
 * duplicate, as with fetch).
 */
import { Connection, Http1NetworkError, networkError, socketHandlers } from "./connection.ts";
import { DEFAULT_LIMITS, type ParsedResponse, type ParserLimits } from "./parser.ts";
import { FrameBuffer, postHead } from "./request.ts";

export { Http1NetworkError } from "./connection.ts";
export type { ParsedResponse as Http1Response } from "./parser.ts";

export interface Http1ClientOptions {
  /** Connections per origin at most; requests beyond wait for one. */
  maxConnections: number;
  /** How long a connection may sit idle before it is retired (servers drop idle ones; Node's default is 4 s). */
  idleTimeoutMs?: number;
  /** Largest answer body accepted (Sentry's are small). */
  maxBodyBytes?: number;
  /** Extra trust for https origins (tests: a self-signed CA). Default: the runtime's CA store, as fetch. */
  tls?: { ca?: string | string[]; rejectUnauthorized?: boolean };
  /** Requests up to this many bytes are framed in one reused buffer (default 64 KiB; tests raise it). */
  reusedFrameBytes?: number;
}

/** What a POST gives back: the status, headers to read, the whole body. */
export interface PostResponse {
  status: number;
  headers: { get(name: string): string | null };
  body: Uint8Array;
}

export type PostFn = (url: string, headers: Record<string, string>, body: Uint8Array, signal?: AbortSignal) => Promise<PostResponse>;

export interface Http1Client {
  post: (url: string, headers: Record<string, string>, body: Uint8Array, signal?: AbortSignal) => Promise<ParsedResponse>;
  /** Closes every connection; requests waiting or in flight fail; later requests open new ones. */
  close(): void;
  /** Connections open or opening, per origin (for tests and metrics). */
  connections(): number;
}

interface Waiter {
  resolve(conn: Connection): void;
  reject(err: unknown): void;
}

interface Origin {
  hostname: string;
  port: number;
  tls: boolean;
  /** host[:port] for the Host header. */
  host: string;
}

class OriginPool {
  private readonly idle: Connection[] = [];
  private readonly waiters: Waiter[] = [];
  /** Open or opening. */
  open = 0;
  private dialing = 0;
  private readonly all = new Set<Connection>();
  private readonly events = {
    onReady: (c: Connection) => this.onReady(c),
    onClosed: (c: Connection, err: Error | null) => this.onClosed(c, err),
  };

  constructor(
    readonly origin: Origin,
    private readonly opts: Required<Omit<Http1ClientOptions, "tls">> & Pick<Http1ClientOptions, "tls">,
    private readonly limits: ParserLimits,
  ) {}

  /** A connection ready for a request: an idle one, else the next to open or free up. */
  acquire(signal: AbortSignal | undefined): Connection | Promise<Connection> {
    const now = performance.now();
    while (this.idle.length > 0) {
      const conn = this.idle.pop()!;
      if (!conn.closed && now - conn.idleSince < conn.keepAliveMs) return conn;
      conn.destroy(null);
    }
    return new Promise<Connection>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      if (signal) {
        const onAbort = () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        waiter.resolve = (c) => (signal.removeEventListener("abort", onAbort), resolve(c));
        waiter.reject = (e) => (signal.removeEventListener("abort", onAbort), reject(e));
      }
      this.waiters.push(waiter);
      this.dialIfNeeded();
    });
  }

  release(conn: Connection): void {
    if (conn.closed) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(conn);
    else {
      conn.makeIdle(performance.now());
      this.idle.push(conn);
    }
  }

  close(err: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
    for (const c of [...this.all]) c.destroy(err);
  }

  private onReady(conn: Connection): void {
    conn.ready = true;
    this.dialing--;
    this.release(conn);
  }

  private onClosed(conn: Connection, err: Error | null): void {
    this.open--;
    this.all.delete(conn);
    if (!conn.ready) {
      // Closed while opening (a TLS certificate not trusted): the request it was for learns why.
      this.dialing--;
      this.waiters.shift()?.reject(err ?? new Http1NetworkError(`connection to ${this.origin.host} closed while opening`, "ECONNRESET"));
    }
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    this.dialIfNeeded();
  }

  /** Opens connections for waiters that no opening connection will serve, up to the bound. */
  private dialIfNeeded(): void {
    while (this.waiters.length > this.dialing && this.open < this.opts.maxConnections) this.dial();
  }

  private dial(): void {
    const { hostname, port, tls } = this.origin;
    const conn = new Connection(this.events, tls, this.opts.idleTimeoutMs, this.limits);
    this.open++;
    this.dialing++;
    this.all.add(conn);
    const tlsOptions = tls ? { servername: hostname, ...this.opts.tls } : undefined;
    Bun.connect<Connection>({ hostname, port, tls: tlsOptions, data: conn, socket: socketHandlers as unknown as import("bun").SocketHandler<Connection> }).catch((err: unknown) => {
      // Refused, unreachable, DNS: the request this dial was for learns why.
      this.dialing--;
      this.open--;
      this.all.delete(conn);
      conn.closed = true;
      this.waiters.shift()?.reject(networkError(err, `cannot connect to ${this.origin.host}`));
      this.dialIfNeeded();
    });
  }
}

const DEFAULT_PORT = { "http:": 80, "https:": 443 } as const;

/** Splits an absolute http(s) URL into its origin key and path, without a URL object per request. */
function splitUrl(url: string): { key: string; path: string } {
  const scheme = url.indexOf("://");
  const slash = scheme < 0 ? -1 : url.indexOf("/", scheme + 3);
  if (slash < 0) return { key: url, path: "/" };
  return { key: url.slice(0, slash), path: url.slice(slash) };
}

function parseOrigin(key: string): Origin {
  const u = new URL(key);
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new TypeError(`unsupported protocol ${u.protocol}`);
  if (u.username || u.password) throw new TypeError("credentials in the URL are not sent");
  const port = u.port ? Number(u.port) : DEFAULT_PORT[u.protocol];
  // URL keeps IPv6 literals in brackets; connect wants them bare.
  const hostname = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  return { hostname, port, tls: u.protocol === "https:", host: u.host };
}

export function createHttp1Client(options: Http1ClientOptions): Http1Client {
  const opts = { idleTimeoutMs: 4000, maxBodyBytes: DEFAULT_LIMITS.maxBodyBytes, reusedFrameBytes: 64 * 1024, ...options };
  const limits: ParserLimits = { ...DEFAULT_LIMITS, maxBodyBytes: opts.maxBodyBytes };
  const pools = new Map<string, OriginPool>();

  const poolFor = (key: string): OriginPool => {
    let pool = pools.get(key);
    if (pool === undefined) {
      pool = new OriginPool(parseOrigin(key), opts, limits);
      pools.set(key, pool);
    }
    return pool;
  };

  /**
   * Connections in flight per signal, with ONE abort listener per signal: the forwarder shares a
   * signal among many requests (timeouts.ts), and a listener added and removed per request cost
   * about 5 % of a request's CPU.
   */
  const inFlight = new WeakMap<AbortSignal, Set<Connection>>();
  const watch = (signal: AbortSignal): Set<Connection> => {
    let set = inFlight.get(signal);
    if (set === undefined) {
      const conns = new Set<Connection>();
      set = conns;
      inFlight.set(signal, conns);
      // An abort mid-exchange leaves a connection's framing unknown: it is closed, not reused.
      signal.addEventListener(
        "abort",
        () => {
          for (const c of conns) c.destroy(signal.reason);
          conns.clear();
        },
        { once: true },
      );
    }
    return set;
  };

  const frames = new FrameBuffer(opts.reusedFrameBytes);
  /** Frames the request and writes it at once: the frame buffer is reused by the next request. */
  const exchange = (conn: Connection, head: string, body: Uint8Array, signal: AbortSignal | undefined): Promise<ParsedResponse> | null => {
    let started = false;
    const bytes = frames.frame(head, body);
    const promise = new Promise<ParsedResponse>((resolve, reject) => {
      if (!signal) {
        started = conn.start(bytes, resolve, reject);
        return;
      }
      const set = watch(signal);
      started = conn.start(
        bytes,
        (res) => (set.delete(conn), resolve(res)),
        (err) => (set.delete(conn), reject(err)),
      );
      if (started) set.add(conn);
    });
    return started ? promise : null;
  };

  const post: Http1Client["post"] = async (url, headers, body, signal) => {
    signal?.throwIfAborted();
    const { key, path } = splitUrl(url);
    const pool = poolFor(key);
    const head = postHead({ host: pool.origin.host, path }, headers, body.length);
    // Twice at most: the second only when the first connection was found closed before any byte left.
    for (let attempt = 0; attempt < 2; attempt++) {
      const got = pool.acquire(signal);
      const conn = got instanceof Connection ? got : await got;
      if (signal?.aborted) {
        pool.release(conn);
        throw signal.reason;
      }
      const pending = exchange(conn, head, body, signal);
      if (pending === null) continue;
      const res = await pending;
      pool.release(conn);
      return res;
    }
    throw new Http1NetworkError(`connection to ${pool.origin.host} closed before the request was sent`, "ECONNRESET");
  };

  return {
    post,
    close() {
      const err = new Http1NetworkError("client closed", "ECONNABORTED");
      for (const pool of pools.values()) pool.close(err);
    },
    connections: () => {
      let n = 0;
      for (const pool of pools.values()) n += pool.open;
      return n;
    },
  };
}

/**
 * One keep-alive connection to an origin, carrying one request at a time (no pipelining). It
 * writes the request with backpressure, feeds the answer's bytes to a ResponseParser, and fails
 * the request in flight with an Http1NetworkError when the connection errors or closes before
 * the answer is whole: Sentry did not answer, so the forwarder retries it.
 */
import type { Socket, SocketHandler } from "bun";
import { ResponseParseError, ResponseParser, type ParsedResponse, type ParserLimits } from "./parser.ts";

/** A failure to get an answer from the server: classified as a network error, never as Sentry's verdict. */
export class Http1NetworkError extends Error {
  override name = "Http1NetworkError";
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export function networkError(err: unknown, fallback: string): Http1NetworkError {
  if (err instanceof Http1NetworkError) return err;
  if (err instanceof ResponseParseError) return new Http1NetworkError(`malformed response: ${err.message}`, err.code);
  const e = err as { code?: string; message?: string } | null | undefined;
  return new Http1NetworkError(e?.message ?? fallback, e?.code ?? "ECONNRESET");
}

interface Exchange {
  parser: ResponseParser;
  resolve(res: ParsedResponse): void;
  reject(err: Error): void;
}

export interface ConnectionEvents {
  /** The connection can take a request (opened, or TLS verified). */
  onReady(conn: Connection): void;
  /** The connection is gone; it takes no more requests. `err`: why, when it failed. */
  onClosed(conn: Connection, err: Error | null): void;
}

export class Connection {
  socket: Socket<Connection> | null = null;
  /** Opened (and TLS verified): requests may use it. */
  ready = false;
  closed = false;
  /** When it last became idle (performance.now()), to retire it before the server does. */
  idleSince = 0;
  /** How long it may stay idle; lowered by the server's Keep-Alive: timeout=N. */
  keepAliveMs: number;
  private exchange: Exchange | null = null;
  private unwritten: Uint8Array | null = null;
  /** The request in flight was written whole: only then may the connection carry another. */
  private requestSent = false;

  constructor(
    readonly events: ConnectionEvents,
    readonly tls: boolean,
    keepAliveMs: number,
    private readonly limits: ParserLimits,
  ) {
    this.keepAliveMs = keepAliveMs;
  }

  /**
   * Starts a request. Returns false, having written nothing, when the connection turned out to
   * be closed (the caller may retry elsewhere); else the promise settles with the answer.
   * `bytes` may be reused once this returns (the client's FrameBuffer): what the socket did not
   * take is copied.
   */
  start(bytes: Uint8Array, resolve: (res: ParsedResponse) => void, reject: (err: Error) => void): boolean {
    const socket = this.socket;
    if (this.closed || socket === null) return false;
    const n = socket.write(bytes);
    if (n < 0) {
      this.destroy(null);
      return false;
    }
    socket.ref();
    this.exchange = { parser: new ResponseParser(this.limits), resolve, reject };
    this.requestSent = n === bytes.length;
    this.unwritten = this.requestSent ? null : bytes.slice(n);
    return true;
  }

  /** Whether the last answer leaves the connection fit for another request. */
  reusable(res: ParsedResponse, extra: number): boolean {
    return !this.closed && res.keepAlive && this.requestSent && extra === 0;
  }

  makeIdle(now: number): void {
    this.idleSince = now;
    // An idle connection must not keep the process alive; fetch's pool does not either.
    this.socket?.unref();
  }

  /** Closes the connection, failing the request in flight (if any) with `err`. */
  destroy(err: Error | null): void {
    // Detached first: terminate() runs the close handler at once, which must not fail it twice.
    const ex = this.exchange;
    this.exchange = null;
    if (!this.closed) {
      this.closed = true;
      this.socket?.terminate();
      this.events.onClosed(this, err);
    }
    ex?.reject(err ?? new Http1NetworkError("connection closed", "ECONNRESET"));
  }

  onData(chunk: Uint8Array): void {
    const ex = this.exchange;
    if (ex === null) {
      // Bytes nobody asked for: the connection's framing can no longer be trusted.
      this.destroy(null);
      return;
    }
    let res: ParsedResponse | null;
    try {
      res = ex.parser.push(chunk);
    } catch (err) {
      this.destroy(networkError(err, "malformed response"));
      return;
    }
    if (res !== null) this.complete(ex, res, ex.parser.extra);
  }

  private complete(ex: Exchange, res: ParsedResponse, extra: number): void {
    this.exchange = null;
    const keepAlive = res.headers.get("keep-alive");
    if (keepAlive !== null) {
      const m = /timeout=(\d+)/i.exec(keepAlive);
      // Retire it a second before the server would, so a request never races its close.
      if (m) this.keepAliveMs = Math.min(this.keepAliveMs, Math.max(0, Number(m[1]) * 1000 - 1000));
    }
    if (!this.reusable(res, extra)) {
      this.closed = true;
      this.socket?.end();
      this.events.onClosed(this, null);
    }
    ex.resolve(res);
  }

  onDrain(): void {
    const rest = this.unwritten;
    const socket = this.socket;
    if (rest === null || socket === null) return;
    const n = socket.write(rest);
    if (n < 0) return this.destroy(null);
    if (n === rest.length) {
      this.unwritten = null;
      this.requestSent = true;
    } else this.unwritten = rest.subarray(n);
  }

  /** The server closed (FIN or close): completes an answer read until close, else fails it. */
  onEnd(err: Error | null): void {
    const ex = this.exchange;
    if (ex !== null && err === null) {
      try {
        const res = ex.parser.end();
        this.exchange = null;
        if (!this.closed) {
          this.closed = true;
          this.events.onClosed(this, null);
        }
        ex.resolve(res);
        return;
      } catch (e) {
        return this.destroy(networkError(e, "connection closed"));
      }
    }
    this.destroy(err === null ? null : networkError(err, "connection error"));
  }
}

/** One handler set for every socket (no closures per connection); the socket's data is its Connection. */
export const socketHandlers: SocketHandler<Connection, "uint8array"> = {
  binaryType: "uint8array",
  open(s) {
    s.data.socket = s;
    if (!s.data.tls) s.data.events.onReady(s.data);
  },
  handshake(s, authorized, error) {
    if (authorized) s.data.events.onReady(s.data);
    else s.data.destroy(new Http1NetworkError(`TLS: ${error?.message ?? "certificate not trusted"}`, (error as { code?: string } | null)?.code ?? "ERR_TLS_CERT"));
  },
  data(s, chunk) {
    s.data.onData(chunk);
  },
  drain(s) {
    s.data.onDrain();
  },
  end(s) {
    s.data.onEnd(null);
  },
  error(s, err) {
    s.data.onEnd(err);
  },
  close(s, err) {
    s.data.onEnd(err ?? null);
  },
};

/**
 * A fake Sentry for forwarding tests, as strict as Relay about what it accepts (after Relay's
 * tests/integration/fixtures/mini_sentry.py): every request must carry one parseable X-Sentry-Auth
 * (32-hex sentry_key, sentry_version 7, sentry_client), a body that decodes (identity or gzip), valid JSON
 * (store) or a valid envelope (envelope), 32-hex event ids, the right Content-Type and a
 * User-Agent. Anything else is recorded in `violations` and answered 400 with a Relay-style
 * `{"detail"}`; tests assert `violations` is empty.
 *
 * It is deliberately independent of src/protocol (its own minimal parsers), so a bug there cannot
 * hide a bug in what cyclops sends.
 *
 * Behaviours let tests play a struggling Sentry: latency (fixed + per request in flight), the next
 * N requests answered 503, every request answered with a status, the next N connections reset, a
 * project rate-limited with 429 + Retry-After / X-Sentry-Rate-Limits.
 */
import type { Server } from "bun";

export interface EnvelopeItem {
  headers: Record<string, unknown>;
  payload: Uint8Array;
  json?: unknown;
}
export interface ParsedEnvelope {
  headers: Record<string, unknown>;
  items: EnvelopeItem[];
}

export interface Received {
  projectId: number;
  endpoint: "store" | "envelope";
  headers: Record<string, string>;
  auth: Record<string, string>;
  /** Decoded body bytes (gunzipped when sent gzip). */
  body: Uint8Array;
  json?: unknown;
  envelope?: ParsedEnvelope;
}

export interface Attempt {
  projectId: number | null;
  endpoint: string;
  status: number | "reset";
}

export interface Behaviour {
  /** Fixed latency per request in ms. */
  latencyMs?: number;
  /** Extra latency per request in flight (including this one), for the pacing benchmark. */
  latencyPerInFlightMs?: number;
  /** Answer the next N requests 503. */
  fail5xx?: number;
  /** Answer every (valid) request with this status (e.g. 400, 302, 500) … */
  status?: number;
  /** … with this body (default Relay-style `{"detail":"…"}`) and these headers. */
  statusBody?: string;
  statusHeaders?: Record<string, string>;
  /** Drop the next N connections without an answer. */
  reset?: number;
  /** 429 the project (all projects when absent) for `retryAfter` seconds from now. */
  rateLimit?: { projectId?: number; retryAfter: number; header?: string; noRetryAfter?: boolean };
}

export interface FakeSentryOptions {
  port?: number;
  /** Known keys per project id; when set, a key not listed for the path's project is answered 403 like Relay. */
  keys?: Record<number, string[]>;
}

export interface FakeSentry {
  url: string;
  port: number;
  received: Received[];
  attempts: Attempt[];
  violations: string[];
  setBehaviour(b: Behaviour): void;
  reset(): void;
  stop(): Promise<void>;
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  readonly inFlight: number;
  readonly maxInFlight: number;
}

const HEX32 = /^[0-9a-f]{32}$/;
const decoder = new TextDecoder();

class Violation extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

function parseAuthHeader(value: string): Record<string, string> {
  const space = value.indexOf(" ");
  if (space < 0 || value.slice(0, space).toLowerCase() !== "sentry") throw new Violation(401, "bad x-sentry-auth header");
  const out: Record<string, string> = {};
  for (const part of value.slice(space + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  if (!out.sentry_key) throw new Violation(401, "missing public key in auth header");
  if (!HEX32.test(out.sentry_key)) throw new Violation(400, "bad sentry DSN public key");
  if (out.sentry_version !== "7") throw new Violation(400, `unsupported protocol version (${out.sentry_version})`);
  if (!out.sentry_client) throw new Violation(400, "missing sentry_client");
  return out;
}

function checkAuthSources(req: Request, url: URL): Record<string, string> {
  const sources: string[] = [];
  const xsa = req.headers.get("x-sentry-auth");
  if (xsa !== null) sources.push("x-sentry-auth");
  const authz = req.headers.get("authorization");
  if (authz !== null && /^(sentry|basic) /i.test(authz)) sources.push("authorization");
  if (url.search.includes("sentry_")) sources.push("query");
  if (sources.length > 1) throw new Violation(401, "multiple authorization payloads detected");
  if (xsa === null) throw new Violation(401, "missing authorization information (cyclops must send X-Sentry-Auth)");
  return parseAuthHeader(xsa);
}

export function parseEnvelope(bytes: Uint8Array): ParsedEnvelope {
  let pos = 0;
  const line = (): Uint8Array => {
    const nl = bytes.indexOf(10, pos);
    const end = nl < 0 ? bytes.length : nl;
    const out = bytes.subarray(pos, end);
    pos = nl < 0 ? bytes.length : nl + 1;
    return out;
  };
  const headerJson = (raw: Uint8Array, what: string): Record<string, unknown> => {
    let v: unknown;
    try {
      v = JSON.parse(decoder.decode(raw));
    } catch {
      throw new Violation(400, `invalid event envelope: ${what} is not JSON`);
    }
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Violation(400, `invalid event envelope: ${what} is not an object`);
    return v as Record<string, unknown>;
  };
  const headers = headerJson(line(), "envelope header");
  const items: EnvelopeItem[] = [];
  while (pos < bytes.length) {
    const ih = headerJson(line(), "item header");
    if (typeof ih.type !== "string") throw new Violation(400, "invalid event envelope: item without type");
    let payload: Uint8Array;
    if (typeof ih.length === "number") {
      if (pos + ih.length > bytes.length) throw new Violation(400, "invalid event envelope: unexpected EOF");
      payload = bytes.subarray(pos, pos + ih.length);
      pos += ih.length;
      if (pos < bytes.length) {
        if (bytes[pos] !== 10) throw new Violation(400, "invalid event envelope: payload longer than its length");
        pos++;
      }
    } else {
      payload = line();
    }
    const item: EnvelopeItem = { headers: ih, payload };
    if (["event", "transaction", "client_report", "session"].includes(ih.type)) {
      try {
        item.json = JSON.parse(decoder.decode(payload));
      } catch {
        throw new Violation(400, `invalid event envelope: ${ih.type} payload is not JSON`);
      }
    }
    items.push(item);
  }
  return { headers, items };
}

const eventIdOk = (v: unknown): boolean => v === undefined || (typeof v === "string" && HEX32.test(v));

export async function startFakeSentry(opts: FakeSentryOptions = {}): Promise<FakeSentry> {
  let behaviour: Behaviour = {};
  let rateLimitUntil = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const received: Received[] = [];
  const attempts: Attempt[] = [];
  const violations: string[] = [];

  const answer = (status: number, detail: string, extra: Record<string, string> = {}) => Response.json({ detail }, { status, headers: extra });

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const m = /^\/api\/(\d+)\/(store|envelope)\/$/.exec(url.pathname);
    const projectId = m ? Number(m[1]) : null;
    const endpoint = m?.[2] ?? url.pathname;
    const latency = (behaviour.latencyMs ?? 0) + (behaviour.latencyPerInFlightMs ?? 0) * inFlight;
    if (latency > 0) await Bun.sleep(latency);

    if (behaviour.reset && behaviour.reset > 0) {
      behaviour.reset--;
      attempts.push({ projectId, endpoint, status: "reset" });
      // An erroring body stream makes Bun drop the connection before any byte is written.
      // (No error value: Bun would print it as an uncaught error.)
      return new Response(new ReadableStream({ start: (c) => c.error() }));
    }
    const record = (status: number) => attempts.push({ projectId, endpoint, status });
    try {
      if (!m) throw new Violation(404, `unknown path ${url.pathname}`);
      if (req.method !== "POST") throw new Violation(405, `method ${req.method} not allowed`);
      const auth = checkAuthSources(req, url);
      if (!req.headers.get("user-agent")) throw new Violation(400, "missing User-Agent");
      // Relay takes identity or gzip bodies (cyclops's UPSTREAM_COMPRESSION none or gzip).
      const encoding = req.headers.get("content-encoding");
      if (encoding !== null && encoding !== "gzip") throw new Violation(400, `expected Content-Encoding gzip or none, got ${encoding}`);
      let body: Uint8Array;
      try {
        const raw = new Uint8Array(await req.arrayBuffer());
        body = encoding === "gzip" ? Bun.gunzipSync(raw) : raw;
      } catch {
        throw new Violation(400, "failed to read request body: failed to decode gzip payload");
      }
      const contentType = req.headers.get("content-type") ?? "";
      const entry: Received = { projectId: projectId!, endpoint: m[2] as "store" | "envelope", headers: Object.fromEntries(req.headers), auth, body };
      if (entry.endpoint === "store") {
        if (!contentType.startsWith("application/json")) throw new Violation(415, `store with Content-Type ${contentType}`);
        try {
          entry.json = JSON.parse(decoder.decode(body));
        } catch {
          throw new Violation(400, "invalid JSON data");
        }
        if (!entry.json || typeof entry.json !== "object") throw new Violation(400, "invalid JSON data: not an object");
        if (!eventIdOk((entry.json as { event_id?: unknown }).event_id)) throw new Violation(400, "invalid event_id");
      } else {
        if (!contentType.startsWith("application/x-sentry-envelope")) throw new Violation(415, `envelope with Content-Type ${contentType}`);
        entry.envelope = parseEnvelope(body);
        if (!eventIdOk(entry.envelope.headers.event_id)) throw new Violation(400, "invalid envelope event_id");
      }
      // Valid request from here: behaviours decide the answer.
      const known = opts.keys?.[projectId!];
      if (opts.keys && !known?.includes(auth.sentry_key!)) {
        record(403);
        return answer(403, "event submission rejected with_reason: ProjectId");
      }
      const rl = behaviour.rateLimit;
      if (rl && Date.now() < rateLimitUntil && (rl.projectId === undefined || rl.projectId === projectId)) {
        record(429);
        const headers: Record<string, string> = {};
        if (!rl.noRetryAfter) headers["retry-after"] = String(Math.max(1, Math.ceil((rateLimitUntil - Date.now()) / 1000)));
        if (rl.header) headers["x-sentry-rate-limits"] = rl.header;
        return answer(429, "event submission rejected with_reason: RateLimited", headers);
      }
      if (behaviour.fail5xx && behaviour.fail5xx > 0) {
        behaviour.fail5xx--;
        record(503);
        return answer(503, "failed to queue envelope");
      }
      if (behaviour.status !== undefined) {
        record(behaviour.status);
        return new Response(behaviour.statusBody ?? JSON.stringify({ detail: `fake sentry answers ${behaviour.status}` }), {
          status: behaviour.status,
          headers: { "content-type": "application/json", ...behaviour.statusHeaders },
        });
      }
      record(200);
      received.push(entry);
      const id = entry.endpoint === "store" ? (entry.json as { event_id?: string }).event_id : entry.envelope?.headers.event_id;
      return Response.json(id ? { id } : {});
    } catch (err) {
      if (!(err instanceof Violation)) throw err;
      violations.push(`${req.method} ${url.pathname}: ${err.message}`);
      record(err.status);
      return answer(err.status === 404 || err.status === 405 ? err.status : err.status === 401 ? 401 : 400, err.message);
    }
  }

  const server: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: opts.port ?? 0,
    idleTimeout: 0,
    async fetch(req) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        return await handle(req);
      } finally {
        inFlight--;
      }
    },
  });
  const port = server.port!;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    attempts,
    violations,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    setBehaviour(b: Behaviour) {
      behaviour = { ...behaviour, ...b };
      if (b.rateLimit) rateLimitUntil = Date.now() + b.rateLimit.retryAfter * 1000;
    },
    reset() {
      behaviour = {};
      rateLimitUntil = 0;
      received.length = 0;
      attempts.length = 0;
      violations.length = 0;
      maxInFlight = 0;
    },
    async stop() {
      await server.stop(true);
    },
    async waitFor(n: number, timeoutMs = 10_000): Promise<Received[]> {
      const deadline = Date.now() + timeoutMs;
      while (received.length < n) {
        if (Date.now() > deadline) {
          throw new Error(
            `fake sentry: waited ${timeoutMs} ms for ${n} reports, got ${received.length}; attempts ${JSON.stringify(attempts.slice(-5))}; violations ${JSON.stringify(violations)}`,
          );
        }
        await Bun.sleep(5);
      }
      return received;
    },
  };
}

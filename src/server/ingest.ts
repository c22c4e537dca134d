/**
 * The HTTP side of every report route:
 *
 *   request → authenticate → decode (src/protocol/) → admission (src/admission/) → answer
 *
 * What becomes of a report (rate-limited, sampled, flood-cut, queued, refused) is admission's
 * decision; this file reads the request, hands admission the decoded report and its key, and
 * answers the verdict (answer.ts). The only promise besides reading the body is the storage's
 * durability promise (SQLite group commit, Redis acknowledgement), and with memory storage and
 * memory counters there is none. Protocol errors are mapped to Sentry's answers in one place,
 * `failure()`.
 */
import { extractAuth, formDecode, type Auth } from "../protocol/auth.ts";
import { checkContentEncoding, decodeContentEncodingBounded, decodeSentryData } from "../protocol/body.ts";
import { parseDsn } from "../protocol/dsn.ts";
import { parseEnvelopeHeader } from "../protocol/envelope.ts";
import { Detail, ProtocolError } from "../protocol/errors.ts";
import { decodeEnvelope, decodeEvent, ENVELOPE_CONTENT_TYPE, type Report } from "../protocol/report.ts";
import type { Admission, ClientIp } from "../admission/admission.ts";
import type { Verdict } from "../admission/verdict.ts";
import { OUTCOMES, type Outcome } from "../outcome/outcomes.ts";
import type { Stats } from "../stats/counters.ts";
import type { Config } from "../config/schema.ts";
import { answer } from "./answer.ts";
import { GcSchedule } from "./gc-schedule.ts";
import { jsonError, preflight } from "./responses.ts";

export type Route = "store" | "envelope";
export type { ClientIp };

/** What the ingest routes need: the config, the counters, and admission. */
export interface IngestDeps {
  config: Config;
  stats: Stats;
  admission: Admission;
  onInternalError?: (e: unknown) => void;
  /** A client closed the connection before its body arrived: worth a debug line, no more. */
  onBodyUnread?: (reason: string) => void;
}

/** The rejection outcome of a protocol error's status (403 unknown key, 413 too large, else invalid). */
const REJECTIONS = new Map<number, Outcome>([
  [403, OUTCOMES.unknown_key],
  [413, OUTCOMES.too_large],
]);

function parseProjectId(param: string | null): number | null {
  if (param === null) return null;
  if (!/^\d{1,15}$/.test(param)) throw new ProtocolError(400, Detail.badProject);
  return Number(param);
}

/** The answer to a report: a Response, or its promise while the storage makes it durable. */
export type Answer = Response | Promise<Response>;

/** What the request line and headers say, before the body is read. */
interface Incoming {
  isGet: boolean;
  isEnvelope: boolean;
  /** From X-Sentry-Auth, Authorization or the query; null for an envelope that carries a dsn instead. */
  auth: Auth | null;
  projectId: number | null;
  /** Body limit: MAX_ENVELOPE_SIZE or MAX_EVENT_SIZE. */
  limit: number;
  url: string;
  contentEncoding: string | null;
  /** GET store: the undecoded `sentry_data` parameter. */
  sentryData: string | null;
}

/** Requests between young-generation collections (see GcSchedule). */
const COLLECT_EVERY_REQUESTS = 1000;

export class IngestPipeline {
  private readonly gc = new GcSchedule(COLLECT_EVERY_REQUESTS);

  constructor(private readonly deps: IngestDeps) {}

  /**
   * Entry point for every ingest route. `projectParam` is the `{project_id}` path segment, if any.
   * Never throws and never rejects: every failure is answered by `failure()`.
   *
   * One promise per report at most: the body read, then whatever the storage awaits. The steps
   * between are plain calls returning `Answer`, so with memory storage and memory counters the
   * pipeline after the body is synchronous. (It was four async functions awaiting each other;
   * flattening them saved about 1.5 µs per report, measured in process.)
   */
  handle(route: Route, req: Request, projectParam: string | null, clientIp: ClientIp): Answer {
    const method = req.method;
    if (method === "OPTIONS") return preflight();
    const { stats } = this.deps;
    stats.received++;
    this.gc.tick();
    if (method !== "POST" && !(method === "GET" && route === "store")) {
      stats.record(OUTCOMES.invalid, null, null);
      return jsonError(405, Detail.methodNotAllowed, undefined, { Allow: route === "store" ? "GET, POST, OPTIONS" : "POST, OPTIONS" });
    }
    let request: Incoming;
    try {
      request = this.incoming(route, req, method === "GET", projectParam);
      if (request.isGet) return this.decoded(request, decodeSentryData(request.sentryData!, request.limit), clientIp, null);
    } catch (e) {
      return this.failure(e);
    }
    return req.arrayBuffer().then(
      (received) => this.received(request, received, clientIp),
      (e: unknown) => this.bodyUnread(e),
    );
  }

  /**
   * The body could not be read: the client closed the connection mid-body (or sent a broken
   * chunked body). Its fault and no one hears the answer, so a debug line with the reason only,
   * not an error with the exception's every field.
   */
  private bodyUnread(e: unknown): Response {
    const reason = e instanceof Error ? e.message : String(e);
    this.deps.onBodyUnread?.(reason);
    return this.failure(new ProtocolError(400, Detail.readBody, [reason.toLowerCase()]));
  }

  /** What the request line and headers say, checked before the body is read. */
  private incoming(route: Route, req: Request, isGet: boolean, projectParam: string | null): Incoming {
    const { config } = this.deps;
    const projectId = parseProjectId(projectParam);
    const url = req.url;
    const q = url.indexOf("?");
    const query = q < 0 ? "" : url.slice(q + 1);
    const headers = req.headers;
    const contentEncoding = headers.get("content-encoding");
    checkContentEncoding(contentEncoding);
    const auth: Auth | null = this.authOf(headers.get("x-sentry-auth"), headers.get("authorization"), query);

    // Envelopes without request auth carry it in their header's dsn.
    const isEnvelope = route === "envelope" || headers.get("content-type")?.startsWith(ENVELOPE_CONTENT_TYPE) === true;
    if (!auth && !isEnvelope) throw new ProtocolError(401, Detail.missingAuth);
    const limit = isEnvelope ? config.MAX_ENVELOPE_SIZE : config.MAX_EVENT_SIZE;
    let sentryData: string | null = null;
    if (isGet) {
      sentryData = sentryDataParam(query);
      if (sentryData === null) throw new ProtocolError(400, "missing sentry_data query parameter");
    } else {
      const declared = Number(headers.get("content-length") ?? 0);
      if (declared > limit) throw new ProtocolError(413, Detail.bodyTooLarge);
    }
    return { isGet, isEnvelope, auth, projectId, limit, url, contentEncoding, sentryData };
  }

  /** A POST body has arrived: decode it and take the report in. */
  private received(request: Incoming, received: ArrayBuffer, clientIp: ClientIp): Answer {
    let raw: Uint8Array | Promise<Uint8Array>;
    try {
      if (received.byteLength > request.limit) throw new ProtocolError(413, Detail.bodyTooLarge);
      // Large compressed bodies inflate off the event loop (protocol/content-encoding.ts).
      raw = decodeContentEncodingBounded(new Uint8Array(received), request.contentEncoding, request.limit);
    } catch (e) {
      releaseBuffers(received, null);
      return this.failure(e);
    }
    if (!(raw instanceof Promise)) return this.inflated(request, received, raw, clientIp);
    return raw.then(
      (body) => this.inflated(request, received, body, clientIp),
      (e: unknown) => {
        releaseBuffers(received, null);
        return this.failure(e);
      },
    );
  }

  private inflated(request: Incoming, received: ArrayBuffer, raw: Uint8Array, clientIp: ClientIp): Answer {
    try {
      return this.decoded(request, raw, clientIp, received);
    } catch (e) {
      releaseBuffers(received, raw);
      return this.failure(e);
    }
  }

  /**
   * Answers admission's verdict, and releases the body's buffers once the storage is done with
   * them: every storage has copied (memory, Redis) or written (SQLite) the body by the time its
   * push settles, and nothing else refers to it, so its memory goes back at once instead of at
   * the next collection and the next request reuses warm memory (see releaseBuffers).
   */
  private settle(decided: Verdict | Promise<Verdict>, report: Report, gif: boolean, received: ArrayBuffer | null, raw: Uint8Array): Answer {
    if (!(decided instanceof Promise)) {
      releaseBuffers(received, raw);
      return answer(decided, report.eventId, gif);
    }
    return decided.then(
      (v) => {
        releaseBuffers(received, raw);
        return answer(v, report.eventId, gif);
      },
      (e: unknown) => {
        releaseBuffers(received, raw);
        return this.failure(e);
      },
    );
  }

  /** Authenticates and decodes the body, and hands the report to admission. */
  private decoded(request: Incoming, raw: Uint8Array, clientIp: ClientIp, received: ArrayBuffer | null): Answer {
    if (raw.byteLength === 0) throw new ProtocolError(400, Detail.emptyBody);
    let auth = request.auth;
    if (!auth && request.isEnvelope) {
      // Relay reads the header as request metadata that must carry a dsn (EnvelopeParams).
      const dsn = parseEnvelopeHeader(raw).dsn;
      if (typeof dsn !== "string") throw new ProtocolError(401, Detail.badEnvelopeAuth);
      const parsed = parseDsn(dsn);
      auth = { publicKey: parsed.publicKey, secretKey: parsed.secretKey, client: null, version: 7 };
    }
    if (!auth) throw new ProtocolError(401, Detail.missingAuth);

    const { admission } = this.deps;
    const projectId = admission.authorize(auth, request.projectId);
    const report = request.isEnvelope ? decodeEnvelope(raw, projectId, auth.publicKey, this.deps.config.MAX_EVENT_SIZE) : decodeEvent(raw, auth.client, request.limit);
    const url = request.url;
    const floodUrl = request.isGet ? url.slice(url.indexOf("/", 8)) : null;
    return this.settle(admission.admit(report, projectId, auth, clientIp, floodUrl), report, request.isGet, received, raw);
  }

  /**
   * Parsed credentials, remembered by their header text: an SDK sends the same X-Sentry-Auth on
   * every report, so a flood parses it once. Only header-only credentials are remembered (a query
   * with sentry_ parameters takes part in the parse and may carry sentry_data); the cache is
   * bounded and parsed values are never mutated.
   */
  private readonly authCache = new Map<string, Auth | null>();

  private authOf(xSentryAuth: string | null, authorization: string | null, query: string): Auth | null {
    if (query.includes("sentry_")) return extractAuth({ xSentryAuth, authorization, query });
    const cacheKey = authorization === null ? (xSentryAuth ?? "") : `${xSentryAuth ?? ""}\n${authorization}`;
    const cached = this.authCache.get(cacheKey);
    if (cached !== undefined) return cached;
    const auth = extractAuth({ xSentryAuth, authorization, query }); // throws for bad credentials: not cached
    if (this.authCache.size >= 4096) this.authCache.clear();
    this.authCache.set(cacheKey, auth);
    return auth;
  }

  /** The one map from failures to Sentry's answers. */
  private failure(e: unknown): Response {
    const { stats } = this.deps;
    if (e instanceof ProtocolError) {
      stats.record(REJECTIONS.get(e.status) ?? OUTCOMES.invalid, null, null);
      return jsonError(e.status, e.detail, e.causes);
    }
    this.deps.onInternalError?.(e);
    stats.record(OUTCOMES.invalid, null, null);
    return jsonError(500, "internal error");
  }
}

/**
 * Detaches the request's body buffer and a decoded copy of it, which frees their memory now.
 * Left to the collector, every body of a storm stays allocated until the next collection, and
 * with the allocator keeping freed pages (src/cli/allocator.ts) that high-water mark stays
 * resident; freed at once, the next request's body lands in the same, already-mapped memory.
 */
function releaseBuffers(received: ArrayBuffer | null, decoded: Uint8Array | null): void {
  if (received === null) return;
  const other = decoded?.buffer;
  if (other !== undefined && other !== received && other instanceof ArrayBuffer && !other.detached) other.transfer(0);
  if (!received.detached) received.transfer(0);
}

/**
 * `sentry_data` from a raw query string, form-decoded as the auth parameters are (protocol/auth.ts,
 * like Relay's url crate: an invalid escape stays as written); null when absent.
 */
function sentryDataParam(query: string): string | null {
  for (const part of query.split("&")) {
    if (part.startsWith("sentry_data=")) return formDecode(part.slice(12));
  }
  return null;
}

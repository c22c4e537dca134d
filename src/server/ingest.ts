/**
 * The HTTP side of every report route:
 *
 *   request → authenticate → decode (src/protocol/) → admission (src/admission/) → answer
 *
 * What becomes of a report (rate-limited, sampled, flood-cut, queued, refused, held while keys
 * load) is admission's decision; this file reads the request, hands admission the decoded report
 * and its key, and answers the verdict (answer.ts). The key is checked before the body is read
 * wherever the credentials allow (headers, query, an envelope's first line), and the body is read
 * within the bodies-in-flight budget (body-reader.ts). The only promise besides reading the body is the storage's
 * durability promise (SQLite group commit, Redis acknowledgement), and with memory storage and
 * memory counters there is none. Protocol errors are mapped to Sentry's answers in one place,
 * `failure()`.
 */
import type { Auth } from "../protocol/auth.ts";
import { checkContentEncoding, decodeContentEncodingBounded, decodeSentryData } from "../protocol/body.ts";
import { Detail, ProtocolError } from "../protocol/errors.ts";
import { decodeEnvelope, decodeEvent, ENVELOPE_CONTENT_TYPE, type Report } from "../protocol/report.ts";
import type { Admission, ClientIp } from "../admission/admission.ts";
import type { Verdict } from "../admission/verdict.ts";
import { OUTCOMES, type Outcome } from "../outcome/outcomes.ts";
import type { Stats } from "../stats/counters.ts";
import type { Config } from "../config/schema.ts";
import { answer } from "./answer.ts";
import { BodyUnread, inflateFailure, joined, OverBudget, readHead, readRest, RequestBody, WHOLE_READ_BYTES } from "./body-reader.ts";
import { CredentialCache, envelopeAuth, sentryDataParam } from "./credentials.ts";
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
  /** The project the URL names, null on the legacy path. */
  projectId: number | null;
  /** The key's project once checked; null while keys have never loaded (held); undefined until checked. */
  verified: number | null | undefined;
  /** Content-Length, null for a chunked body. */
  declared: number | null;
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
  private readonly credentials = new CredentialCache();

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
    return this.read(request, req, clientIp);
  }

  /**
   * Reads a POST body within the budget. The common case, credentials in the request and a small
   * body with a Content-Length, is one `arrayBuffer()` (Bun's fast path; its bytes were taken from
   * the budget first); larger or chunked bodies are read chunk by chunk into one buffer, and an
   * envelope whose key is only in its header is checked after its first line.
   */
  private read(request: Incoming, req: Request, clientIp: ClientIp): Answer {
    // Each client address reads within its share of the budget (BodyBudget.perClient).
    const ip = typeof clientIp === "function" ? clientIp() : clientIp;
    const body = new RequestBody(this.deps.admission.bodies, ip);
    clientIp = ip;
    const { declared } = request;
    try {
      if (request.auth === null && request.contentEncoding === null) return this.readEnvelope(request, req, body, clientIp);
      if (declared !== null && declared <= WHOLE_READ_BYTES) {
        body.take(declared);
        return req.arrayBuffer().then(
          (received) => this.received(request, (body.received = new Uint8Array(received)), body, clientIp),
          (e: unknown) => this.failure(new BodyUnread(e), request, body),
        );
      }
    } catch (e) {
      return this.failure(e, request, body);
    }
    const reader = req.body?.getReader() ?? null;
    return readRest(reader, body, [], declared, request.limit).then(
      (received) => this.received(request, (body.received = received), body, clientIp),
      (e: unknown) => (reader?.cancel().catch(() => {}), this.failure(e, request, body)),
    );
  }

  /** An envelope without request credentials: its header's dsn is checked before the rest is read. */
  private async readEnvelope(request: Incoming, req: Request, body: RequestBody, clientIp: ClientIp): Promise<Response> {
    const reader = req.body?.getReader() ?? null;
    try {
      const head = reader === null ? { chunks: [], done: true } : await readHead(reader, body);
      request.auth = envelopeAuth(joined(head.chunks));
      request.verified = this.deps.admission.authorize(request.auth, request.projectId);
      const received = await readRest(head.done ? null : reader, body, head.chunks, request.declared, request.limit);
      return await this.received(request, (body.received = received), body, clientIp);
    } catch (e) {
      reader?.cancel().catch(() => {});
      return this.failure(e, request, body);
    }
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
    const auth: Auth | null = this.credentials.of(headers.get("x-sentry-auth"), headers.get("authorization"), query);

    // Envelopes without request auth carry it in their header's dsn.
    const isEnvelope = route === "envelope" || headers.get("content-type")?.startsWith(ENVELOPE_CONTENT_TYPE) === true;
    if (!auth && !isEnvelope) throw new ProtocolError(401, Detail.missingAuth);
    const limit = isEnvelope ? config.MAX_ENVELOPE_SIZE : config.MAX_EVENT_SIZE;
    let sentryData: string | null = null;
    let declared: number | null = null;
    if (isGet) {
      sentryData = sentryDataParam(query);
      if (sentryData === null) throw new ProtocolError(400, "missing sentry_data query parameter");
    } else {
      const length = headers.get("content-length");
      // Bun's parser refuses a malformed length; one that is not a count is read as chunked.
      declared = length === null || !/^\d{1,15}$/.test(length) ? null : Number(length);
      if (declared !== null && declared > limit) throw new ProtocolError(413, Detail.bodyTooLarge);
    }
    // The key is checked before the body is read: an unknown key costs no buffering.
    const verified = auth === null ? undefined : this.deps.admission.authorize(auth, projectId);
    return { isGet, isEnvelope, auth, projectId, verified, declared, limit, url, contentEncoding, sentryData };
  }

  /**
   * A POST body has arrived: undo its Content-Encoding and take the report in. Inflation is capped
   * at the budget's room as well as the size limit; past the room (not the limit) it is the
   * budget's 429, not a 413 (inflateFailure).
   */
  private received(request: Incoming, received: Uint8Array, body: RequestBody, clientIp: ClientIp): Answer {
    let raw: Uint8Array | Promise<Uint8Array> = received;
    const cap = Math.min(request.limit, body.room);
    try {
      if (received.byteLength > request.limit) throw new ProtocolError(413, Detail.bodyTooLarge);
      // Large compressed bodies inflate off the event loop (protocol/content-encoding.ts).
      if (request.contentEncoding !== null) raw = decodeContentEncodingBounded(received, request.contentEncoding, cap);
    } catch (e) {
      return this.failure(inflateFailure(e, cap, request.limit), request, body);
    }
    if (!(raw instanceof Promise)) return this.inflated(request, received, raw, body, clientIp);
    return raw.then(
      (inflated) => this.inflated(request, received, inflated, body, clientIp),
      (e: unknown) => this.failure(inflateFailure(e, cap, request.limit), request, body),
    );
  }

  private inflated(request: Incoming, received: Uint8Array, raw: Uint8Array, body: RequestBody, clientIp: ClientIp): Answer {
    try {
      if (raw !== received) body.take((body.decoded = raw).byteLength); // inflated within the room (or, inflated off the loop, 429 if others took it)
      return this.decoded(request, raw, clientIp, body);
    } catch (e) {
      return this.failure(e, request, body);
    }
  }

  /**
   * Answers admission's verdict, and releases the body (its buffers and its share of the budget)
   * once the storage is done with it (see RequestBody.release).
   */
  private settle(decided: Verdict | Promise<Verdict>, report: Report, gif: boolean, body: RequestBody | null): Answer {
    if (!(decided instanceof Promise)) {
      body?.release();
      return answer(decided, report.eventId, gif);
    }
    return decided.then(
      (v) => {
        body?.release();
        return answer(v, report.eventId, gif);
      },
      (e: unknown) => this.failure(e, null, body),
    );
  }

  /** Authenticates (if not yet) and decodes the body, and hands the report to admission. */
  private decoded(request: Incoming, raw: Uint8Array, clientIp: ClientIp, body: RequestBody | null): Answer {
    if (raw.byteLength === 0) throw new ProtocolError(400, Detail.emptyBody);
    const { admission } = this.deps;
    let auth = request.auth;
    // A compressed envelope without request credentials: its header is read once inflated.
    if (!auth && request.isEnvelope) auth = request.auth = envelopeAuth(raw);
    if (!auth) throw new ProtocolError(401, Detail.missingAuth);
    const projectId = request.verified === undefined ? (request.verified = admission.authorize(auth, request.projectId)) : request.verified;
    const url = request.url;
    const floodUrl = request.isGet ? url.slice(url.indexOf("/", 8)) : null;
    const limit = request.limit;
    const urlProject = request.projectId;
    // Keys never loaded yet: a well-formed report is held until they are (admission/held.ts).
    if (projectId === null && request.isEnvelope && urlProject === null) return this.settle(admission.keysPending(null), NO_REPORT, request.isGet, body);
    const decodeAs = projectId ?? urlProject ?? 0;
    const report = request.isEnvelope ? decodeEnvelope(raw, decodeAs, auth.publicKey, this.deps.config.MAX_EVENT_SIZE) : decodeEvent(raw, auth.client, limit);
    if (projectId === null) return this.settle(admission.hold(report, auth, urlProject, clientIp, floodUrl, limit), report, request.isGet, body);
    return this.settle(admission.admit(report, projectId, auth, clientIp, floodUrl), report, request.isGet, body);
  }

  /**
   * The one map from failures to Sentry's answers, and the one place a failed request's body is
   * released. `request` is null once admission has the report (its failures are bugs).
   */
  private failure(e: unknown, request: Incoming | null = null, body: RequestBody | null = null): Response {
    body?.release();
    const { stats } = this.deps;
    if (e instanceof BodyUnread) {
      // The client closed the connection mid-body: its fault, and no one hears the answer.
      this.deps.onBodyUnread?.(e.message);
      e = new ProtocolError(400, Detail.readBody, [e.message.toLowerCase()]);
    }
    if (e instanceof OverBudget && request !== null) {
      const projectId = typeof request.verified === "number" ? request.verified : null;
      // The body was never read: a store body is an error event; an envelope's category is unknown.
      return answer(this.deps.admission.overBudget(projectId, request.isEnvelope ? null : "error", e.message), null, false);
    }
    if (e instanceof ProtocolError) {
      stats.record(REJECTIONS.get(e.status) ?? OUTCOMES.invalid, null, null);
      return jsonError(e.status, e.detail, e.causes);
    }
    this.deps.onInternalError?.(e);
    stats.record(OUTCOMES.invalid, null, null);
    return jsonError(500, "internal error");
  }
}

/** The answer of a report never decoded: no event id. */
const NO_REPORT = { eventId: null } as Report;

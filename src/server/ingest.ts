/**
 * The one ingest pipeline every report route goes through:
 *
 *   authenticate → decode → drop floods and samples → enqueue → answer
 *
 * Everything it consults is in memory (key registry, flood counters, Sentry's active rate
 * limits); the only promise besides reading the body is the storage's durability promise (SQLite
 * group commit, Redis acknowledgement), and with memory storage and memory counters there is none.
 * Errors are typed (ProtocolError and the storage errors) and mapped to Sentry's status codes in
 * one place, `failure()`. What a request decodes to (a Report) is report.ts.
 */
import { extractAuth, formDecode, type Auth } from "../protocol/auth.ts";
import { checkContentEncoding, decodeContentEncoding, decodeSentryData } from "../protocol/body.ts";
import { parseDsn } from "../protocol/dsn.ts";
import { parseEnvelopeHeader } from "../protocol/envelope.ts";
import { Detail, ProtocolError } from "../protocol/errors.ts";
import { getFloodKey, groupingHash } from "../protocol/grouping.ts";
import { QueueFullError, StorageUnavailableError } from "../storage/queue.ts";
import type { NewItem } from "../storage/item.ts";
import { CounterUnavailableError } from "../throttle/counter-store.ts";
import type { Deps } from "./deps.ts";
import { CollectionPacer } from "./collection-pacer.ts";
import { decodeEnvelope, decodeEvent, ENVELOPE_CONTENT_TYPE, type Report } from "./report.ts";
import { accepted, jsonError, preflight } from "./responses.ts";

export type Route = "store" | "envelope";
/** The client's address, or how to find it: looked up only for reports that are queued. */
export type ClientIp = string | null | (() => string | null);

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

/** Requests between young-generation collections (see CollectionPacer). */
const COLLECT_EVERY_REQUESTS = 1000;

export class IngestPipeline {
  private readonly pacer = new CollectionPacer(COLLECT_EVERY_REQUESTS);

  constructor(private readonly deps: Deps) {}

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
    this.pacer.tick();
    if (method !== "POST" && !(method === "GET" && route === "store")) {
      stats.dropped.invalid++;
      return jsonError(405, Detail.methodNotAllowed, undefined, { Allow: route === "store" ? "GET, POST, OPTIONS" : "POST, OPTIONS" });
    }
    let request: Incoming;
    try {
      request = this.incoming(route, req, method === "GET", projectParam);
      if (request.isGet) return this.settle(this.decoded(request, decodeSentryData(request.sentryData!, request.limit), clientIp), null, null);
    } catch (e) {
      return this.failure(e);
    }
    return req.arrayBuffer().then(
      (received) => this.received(request, received, clientIp),
      (e: unknown) => this.failure(e),
    );
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
    let raw: Uint8Array | null = null;
    try {
      if (received.byteLength > request.limit) throw new ProtocolError(413, Detail.bodyTooLarge);
      raw = decodeContentEncoding(new Uint8Array(received), request.contentEncoding, request.limit);
      return this.settle(this.decoded(request, raw, clientIp), received, raw);
    } catch (e) {
      releaseBuffers(received, raw);
      return this.failure(e);
    }
  }

  /**
   * Maps a step's failure to its answer, and releases the body's buffers once the storage is done
   * with them: every storage has copied (memory, Redis) or written (SQLite) the body by the time
   * its push settles, and nothing else refers to it, so its memory goes back at once instead of
   * at the next collection and the next request reuses warm memory (see releaseBuffers).
   */
  private settle(answer: Answer, received: ArrayBuffer | null, raw: Uint8Array | null): Answer {
    if (!(answer instanceof Promise)) {
      releaseBuffers(received, raw);
      return answer;
    }
    return answer.then(
      (response) => {
        releaseBuffers(received, raw);
        return response;
      },
      (e: unknown) => {
        releaseBuffers(received, raw);
        return this.failure(e);
      },
    );
  }

  private decoded(request: Incoming, raw: Uint8Array, clientIp: ClientIp): Answer {
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

    const projectId = this.authorize(auth, request.projectId);
    const report = request.isEnvelope ? decodeEnvelope(raw, projectId, auth.publicKey) : decodeEvent(raw, auth.client, request.limit);

    const limited = this.deps.rateLimits?.(projectId, report.category);
    if (limited) {
      this.deps.stats.dropped.rate_limited++;
      this.deps.stats.discard(projectId, "ratelimit_backoff", report.category);
      return jsonError(429, "event submission rejected with_reason: RateLimited", undefined, {
        "Retry-After": String(limited.retryAfter),
        "X-Sentry-Rate-Limits": limited.header,
      });
    }
    const url = request.url;
    return this.admit(report, projectId, auth, clientIp, request.isGet ? url.slice(url.indexOf("/", 8)) : null);
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

  /** Checks the key against the registry; returns the project the report belongs to. */
  private authorize(auth: Auth, projectId: number | null): number {
    const { config, keys } = this.deps;
    const key = keys.lookup(auth.publicKey);
    if (!config.RESTRICT_API_ACCESS) {
      const resolved = projectId ?? key?.projectId;
      if (resolved === undefined) throw new ProtocolError(403, "event submission rejected with_reason: ProjectId");
      return resolved;
    }
    if (!key || (projectId !== null && key.projectId !== projectId)) {
      throw new ProtocolError(403, "event submission rejected with_reason: ProjectId");
    }
    if (config.CHECK_SECRET_KEY && auth.secretKey && key.secretKey && auth.secretKey !== key.secretKey) {
      throw new ProtocolError(403, "event submission rejected with_reason: ProjectId");
    }
    return key.projectId;
  }

  /** Sampling, the flood cut, then the queue. */
  private admit(report: Report, projectId: number, auth: Auth, clientIp: ClientIp, getUrl: string | null): Answer {
    const { config, stats, counters } = this.deps;
    const gif = getUrl !== null;

    if (report.sampleable) {
      const share = config.IGNORE_PERCENTAGE[projectId];
      if (share !== undefined && share > 0 && Math.random() * 100 < share) {
        stats.dropped.sampled++;
        stats.project(projectId).ignored++;
        stats.discard(projectId, "sample_rate", report.category);
        return accepted(report.eventId, "IGNORED", 0, gif);
      }
    }

    if (!report.errorEvent || config.URL_CACHE_EXPIRATION <= 0) return this.enqueue(report, projectId, auth, clientIp, 0, gif);
    const floodKey = getUrl !== null ? getFloodKey(getUrl) : groupingHash(report.errorEvent, projectId);
    const pushCounted = this.deps.pushCounted;
    if (pushCounted) {
      // Counters and queue in one storage: count and queue in one step (see Deps.pushCounted).
      const flood = { key: floodKey, windowSeconds: config.URL_CACHE_EXPIRATION, maxUses: config.MAX_CACHE_USES };
      return pushCounted(newItem(report, projectId, auth, clientIp), flood).then(
        (cacheCount) => (cacheCount > config.MAX_CACHE_USES ? this.flooded(report, projectId, cacheCount, gif) : this.queued(report, projectId, cacheCount, gif)),
        (e: unknown) => {
          throw this.notQueued(e, projectId, report);
        },
      );
    }
    const counted = counters.increment(floodKey, config.URL_CACHE_EXPIRATION);
    if (typeof counted !== "number") return counted.then((cacheCount) => this.counted(report, projectId, auth, clientIp, cacheCount, gif));
    return this.counted(report, projectId, auth, clientIp, counted, gif);
  }

  private counted(report: Report, projectId: number, auth: Auth, clientIp: ClientIp, cacheCount: number, gif: boolean): Answer {
    if (cacheCount > this.deps.config.MAX_CACHE_USES) return this.flooded(report, projectId, cacheCount, gif);
    return this.enqueue(report, projectId, auth, clientIp, cacheCount, gif);
  }

  private enqueue(report: Report, projectId: number, auth: Auth, clientIp: ClientIp, cacheCount: number, gif: boolean): Answer {
    let pushed: void | Promise<void>;
    try {
      pushed = this.deps.queue.push(newItem(report, projectId, auth, clientIp));
    } catch (e) {
      throw this.notQueued(e, projectId, report);
    }
    if (!pushed) return this.queued(report, projectId, cacheCount, gif);
    return pushed.then(
      () => this.queued(report, projectId, cacheCount, gif),
      (e: unknown) => {
        throw this.notQueued(e, projectId, report);
      },
    );
  }

  /** Past MAX_CACHE_USES in the window: answered as accepted, and dropped. */
  private flooded(report: Report, projectId: number, cacheCount: number, gif: boolean): Response {
    const { stats } = this.deps;
    stats.dropped.flood++;
    stats.project(projectId).ignored++;
    stats.discard(projectId, "event_processor", report.category);
    return accepted(report.eventId, "IGNORED", cacheCount, gif);
  }

  private queued(report: Report, projectId: number, cacheCount: number, gif: boolean): Response {
    const { stats } = this.deps;
    stats.processed++;
    stats.project(projectId).processed++;
    this.deps.onQueued?.();
    return accepted(report.eventId, "PROCESSED", cacheCount, gif);
  }

  /** The storage refused a report: whoever drops an item reports it (client reports); failure() answers the client. */
  private notQueued(e: unknown, projectId: number, report: Report): unknown {
    this.deps.stats.discard(projectId, "queue_overflow", report.category);
    return e;
  }

  /** The one map from failures to Sentry's answers. */
  private failure(e: unknown): Response {
    const { stats } = this.deps;
    if (e instanceof ProtocolError) {
      if (e.status === 403) stats.dropped.unknown_key++;
      else if (e.status === 413) stats.dropped.too_large++;
      else stats.dropped.invalid++;
      return jsonError(e.status, e.detail, e.causes);
    }
    if (e instanceof QueueFullError || e instanceof StorageUnavailableError || e instanceof CounterUnavailableError) {
      stats.dropped.queue_full++;
      if (!(e instanceof QueueFullError)) this.deps.onStorageError?.(e);
      return jsonError(503, "failed to queue envelope", [e.message], { "Retry-After": String(e.retryAfter) });
    }
    this.deps.onInternalError?.(e);
    stats.dropped.invalid++;
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

/** What the queue keeps of a report that passed the flood cut. */
function newItem(report: Report, projectId: number, auth: Auth, clientIp: ClientIp): NewItem {
  return {
    projectId,
    endpoint: report.endpoint,
    auth, // parsed credentials are never mutated; the same object per auth header lets storage reuse its encoding
    clientIp: typeof clientIp === "function" ? clientIp() : clientIp,
    contentType: report.contentType,
    body: report.body,
    eventId: report.eventId,
    receivedAt: Date.now(),
    category: report.category,
  };
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

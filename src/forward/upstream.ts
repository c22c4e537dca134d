/**
 * One request to Sentry, and the ONE place where what happened to it is classified:
 *
 *   2xx (any body, even not JSON)          → delivered: ack
 *   429                                    → rate_limited: Sentry received it and will not store it
 *                                            now; keep it (not a failed attempt), pause the project
 *   network error, timeout, 5xx            → unavailable: Sentry did not receive it; retry with
 *                                            backoff, attempts + 1, upstream in outage
 *   other 4xx, 3xx (redirects not followed) → rejected: Sentry will never take it; drop, count
 *   stop() aborting an in-flight request   → aborted: put back untouched
 *
 * and, before sending, an item older than MAX_ITEM_AGE or failed more than MAX_RETRIES times is
 * expired (`expiryOf`). Relay draws the same line (services/upstream.rs): only failures to reach
 * Sentry are retried; an answer from Sentry, even a refusal, is final.
 */
import type { Config } from "../config/schema.ts";
import { envelopeMainItem, itemCategory, parseEnvelope } from "../protocol/envelope.ts";
import type { QueuedItem } from "../storage/item.ts";
import type { PostFn } from "./http1/client.ts";
import { limitsFromResponse, type HeaderReader, type ParsedLimit } from "./rate-limits.ts";
import type { DeadlineSlot } from "./timeouts.ts";

export type Outcome =
  | { kind: "delivered"; status: number; limits: ParsedLimit[] }
  | { kind: "rate_limited"; status: 429; limits: ParsedLimit[] }
  | { kind: "unavailable"; status: number | null; cause: string }
  | { kind: "rejected"; status: number; cause: string }
  | { kind: "aborted" };

export interface SendResult {
  outcome: Outcome;
  /** Time until Sentry's answer (headers and body) in ms; null when Sentry gave no HTTP answer. */
  latencyMs: number | null;
}

export type Expiry = "age" | "retries";

/** Why an item must be dropped without sending, or null to send it. */
export function expiryOf(item: QueuedItem, nowMs: number, config: Pick<Config, "MAX_ITEM_AGE" | "MAX_RETRIES">): Expiry | null {
  if (nowMs - item.receivedAt > config.MAX_ITEM_AGE * 1000) return "age";
  if (item.attempts > config.MAX_RETRIES) return "retries";
  return null;
}

/**
 * Data category of an item, for rate limits and client reports: the one ingest queued with it;
 * else (storages that do not keep it) "error" for store bodies, and for envelopes the category of
 * the main item (event, else transaction, else the first), as ingest picks it.
 */
export function itemCategoryOf(item: Pick<QueuedItem, "endpoint" | "body" | "category">): string {
  if (item.category !== undefined) return item.category;
  if (item.endpoint === "store") return "error";
  try {
    const env = parseEnvelope(item.body);
    const main = envelopeMainItem(env);
    return main ? itemCategory(main.type) : "default";
  } catch {
    return "error";
  }
}

export const userAgent = (version: string): string => `cyclops/${version}`;

/** The auth header Relay itself sends upstream (no secret unless FORWARD_SECRET_KEY). */
export function authHeader(auth: { publicKey: string; secretKey: string | null; client: string | null }, version: string, forwardSecret: boolean): string {
  // A comma would split the header's fields: keep the client name parseable.
  const raw = auth.client ?? userAgent(version);
  const client = raw.includes(",") ? raw.replace(/,/g, " ") : raw;
  let header = `Sentry sentry_key=${auth.publicKey}, sentry_version=7, sentry_client=${client}`;
  if (forwardSecret && auth.secretKey) header += `, sentry_secret=${auth.secretKey}`;
  return header;
}

/** The last base URL trimmed: every request of a process has the same one. */
let trimmed = { from: "", to: "" };

export function endpointUrl(baseUrl: string, projectId: number, endpoint: "store" | "envelope"): string {
  if (trimmed.from !== baseUrl) trimmed = { from: baseUrl, to: baseUrl.replace(/\/+$/, "") };
  return `${trimmed.to}/api/${projectId}/${endpoint}/`;
}

export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  /** The body as sent (gzip-compressed when UPSTREAM_COMPRESSION is gzip). */
  body: Uint8Array;
}

/** gzip level for UPSTREAM_COMPRESSION gzip: level 1 keeps most of the saving for less than half the CPU of 6 (docs/BENCHMARKS.md). */
const GZIP_LEVEL = 1;

/** What a request is built from: a queued item, or a client report cyclops writes itself. */
export type Outgoing = Pick<QueuedItem, "projectId" | "endpoint" | "auth" | "clientIp" | "contentType" | "body">;

export function buildRequest(item: Outgoing, config: Pick<Config, "SENTRY_BASE_URL" | "FORWARD_SECRET_KEY" | "UPSTREAM_COMPRESSION">, version: string): UpstreamRequest {
  const gzip = config.UPSTREAM_COMPRESSION === "gzip";
  const headers: Record<string, string> = {
    "x-sentry-auth": authHeader(item.auth, version, config.FORWARD_SECRET_KEY),
    "content-type": item.contentType,
    "user-agent": userAgent(version),
  };
  if (gzip) headers["content-encoding"] = "gzip";
  if (item.clientIp) {
    headers["x-sentry-forwarded-for"] = item.clientIp;
    headers["x-forwarded-for"] = item.clientIp;
  }
  const body = gzip ? Bun.gzipSync(item.body as Uint8Array<ArrayBuffer>, { level: GZIP_LEVEL }) : item.body;
  return { url: endpointUrl(config.SENTRY_BASE_URL, item.projectId, item.endpoint), headers, body };
}

export interface SendOptions {
  /** The HTTP client's POST (src/forward/http1/: cheaper per request than fetch). */
  post: PostFn;
  timeoutMs: number;
  /** Aborted by stop(): the outcome is `aborted`, not a failure. */
  signal: AbortSignal;
  now: () => number;
  /**
   * A deadline shared with other requests (timeouts.ts), which also aborts on stop; without one,
   * the request gets a controller and timer of its own.
   */
  deadline?: () => { slot: DeadlineSlot; release(): void };
}

class TimeoutError extends Error {
  override name = "TimeoutError";
}

/** A controller and timer for one request, aborted by stop() or its own timeout. */
function ownDeadline(opts: SendOptions): { slot: DeadlineSlot; release(): void } {
  const controller = new AbortController();
  const slot: DeadlineSlot = { signal: controller.signal, timedOut: false };
  const onStop = () => controller.abort(opts.signal.reason);
  opts.signal.addEventListener("abort", onStop, { once: true });
  const timer = setTimeout(() => {
    slot.timedOut = true;
    controller.abort(new TimeoutError("timeout"));
  }, opts.timeoutMs);
  return {
    slot,
    release() {
      clearTimeout(timer);
      opts.signal.removeEventListener("abort", onStop);
    },
  };
}

/** Sends one request; never throws. */
export async function send(req: UpstreamRequest, opts: SendOptions): Promise<SendResult> {
  const started = opts.now();
  if (opts.signal.aborted) return { outcome: { kind: "aborted" }, latencyMs: null };
  const deadline = opts.deadline ? opts.deadline() : ownDeadline(opts);
  const signal = deadline.slot.signal;
  try {
    // The whole answer arrives inside the timeout: a Sentry that sends headers and then hangs is a timeout.
    const res = await opts.post(req.url, req.headers, req.body, signal);
    // A 2xx body says nothing we use: it is not decoded.
    const ok = res.status >= 200 && res.status < 300;
    const text = ok ? "" : decoder.decode(res.body);
    const done = opts.now();
    return { outcome: classifyResponse(res.status, res.headers, text, done), latencyMs: done - started };
  } catch (err) {
    if (opts.signal.aborted) return { outcome: { kind: "aborted" }, latencyMs: null };
    // Aborted by the deadline: a timeout, whatever error the fetch rejected with.
    const outcome = classifyError(deadline.slot.timedOut ? new TimeoutError("timeout") : err, opts.timeoutMs);
    // A timeout is an answer about Sentry's speed; a refused connection (0 ms) is not.
    return { outcome, latencyMs: outcome.kind === "unavailable" && outcome.cause.startsWith("timeout") ? opts.now() - started : null };
  } finally {
    deadline.release();
  }
}

const decoder = new TextDecoder();

export function classifyResponse(status: number, headers: HeaderReader, body: string, nowMs: number): Outcome {
  if (status >= 200 && status < 300) return { kind: "delivered", status, limits: limitsFromResponse(status, headers, nowMs) };
  if (status === 429) return { kind: "rate_limited", status, limits: limitsFromResponse(status, headers, nowMs) };
  if (status >= 500) return { kind: "unavailable", status, cause: `HTTP ${status}${detailSuffix(body)}` };
  if (status >= 300 && status < 400) {
    const location = headers.get("location");
    return { kind: "rejected", status, cause: `HTTP ${status} redirect${location ? ` to ${location}` : ""} (not followed: fix SENTRY_BASE_URL)` };
  }
  return { kind: "rejected", status, cause: `HTTP ${status}${detailSuffix(body)}` };
}

export function classifyError(err: unknown, timeoutMs: number): Outcome {
  const e = err as { name?: string; code?: string; message?: string } | null;
  // A fetch aborted by our timeout rejects with the abort reason (a TimeoutError) or an AbortError.
  if (e?.name === "TimeoutError") return { kind: "unavailable", status: null, cause: `timeout after ${timeoutMs} ms` };
  const code = e?.code ? `${e.code}: ` : "";
  const message = (e?.message ?? String(err)).split("\n")[0]!.slice(0, 200);
  return { kind: "unavailable", status: null, cause: `network error: ${code}${message}` };
}

/** Sentry's reason, from Relay's `{"detail"}` or legacy `{"error"}` bodies, or the text itself. */
export function sentryDetail(body: string): string | null {
  const trimmed = body.trim();
  if (!trimmed) return null;
  try {
    const doc = JSON.parse(trimmed) as { detail?: unknown; error?: unknown };
    const detail = doc?.detail ?? doc?.error;
    if (typeof detail === "string") return detail.slice(0, 300);
  } catch {
    // not JSON: an HTML error page or a proxy's text
  }
  return trimmed.replace(/\s+/g, " ").slice(0, 200);
}

const detailSuffix = (body: string): string => {
  const d = sentryDetail(body);
  return d ? `: ${d}` : "";
};

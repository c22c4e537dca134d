/**
 * The answers cyclops gives, shaped as Sentry's ingestion (Relay) gives them: JSON
 * `{"detail": …}` errors, `{"id": …}` on success, the 1×1 GIF for GET store, CORS headers on all
 * ingest answers so browser SDKs (tunnel mode, cross-origin raven-js) can read them.
 */
import { errorBody } from "../protocol/errors.ts";

/** Relay's CORS layer (relay-server/src/middlewares/cors.rs). */
export const CORS_HEADERS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Expose-Headers": "x-sentry-error, x-sentry-rate-limits, retry-after, x-cyclops-status, x-cyclops-cache-count",
} as const;

export const PREFLIGHT_HEADERS = {
  ...CORS_HEADERS,
  "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
  "Access-Control-Allow-Headers":
    "x-sentry-auth, x-requested-with, x-forwarded-for, origin, referer, accept, content-type, authentication, authorization, content-encoding, transfer-encoding, sentry-trace, baggage",
  "Access-Control-Max-Age": "3600",
} as const;

export function preflight(): Response {
  return new Response(null, { status: 200, headers: PREFLIGHT_HEADERS });
}

export function jsonError(status: number, detail: string, causes?: string[], extra?: Record<string, string>): Response {
  return new Response(errorBody(detail, causes), {
    status,
    headers: { ...CORS_HEADERS, "Content-Type": "application/json", ...extra },
  });
}

/** GIF89a 1×1 transparent pixel, as Relay's store GET answers (endpoints/store.rs). */
export const PIXEL = Uint8Array.from(atob("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"), (c) => c.charCodeAt(0));

export type CyclopsStatus = "PROCESSED" | "IGNORED";

/**
 * Answer headers by (status, cache count), built once: a Response built from a prebuilt Headers
 * costs a third of one built from an object literal, and this is every accepted report's answer.
 * Counts past the cache's reach (a long flood) build their headers each time.
 */
const ANSWER_HEADERS_CACHED = 256;
/** By status, then JSON (0) or GIF (1), then cache count: array lookups, no key string per answer. */
const answerHeaders: Record<CyclopsStatus, [Headers[], Headers[]]> = { PROCESSED: [[], []], IGNORED: [[], []] };

function answerHeadersFor(status: CyclopsStatus, cacheCount: number, gif: boolean): Headers {
  const byCount = answerHeaders[status][gif ? 1 : 0];
  const cached = byCount[cacheCount];
  if (cached !== undefined) return cached;
  if (cacheCount > ANSWER_HEADERS_CACHED) {
    // A long flood: copying a prebuilt set and changing the count costs half of building it.
    const headers = new Headers(answerHeadersFor(status, 0, gif));
    headers.set("X-CYCLOPS-CACHE-COUNT", String(cacheCount));
    return headers;
  }
  const headers = new Headers({
    ...CORS_HEADERS,
    "Content-Type": gif ? "image/gif" : "application/json",
    "X-CYCLOPS-STATUS": status,
    "X-CYCLOPS-CACHE-COUNT": String(cacheCount),
  });
  byCount[cacheCount] = headers;
  return headers;
}

/** 200 for an accepted or dropped report; the original's X-CYCLOPS-* headers kept for operators' scripts. */
export function accepted(eventId: string | null, status: CyclopsStatus, cacheCount: number, gif: boolean): Response {
  const headers = answerHeadersFor(status, cacheCount, gif);
  if (gif) {
    if (!eventId) return new Response(PIXEL, { status: 200, headers });
    const withId = new Headers(headers);
    withId.set("X-Sentry-ID", eventId);
    return new Response(PIXEL, { status: 200, headers: withId });
  }
  return new Response(eventId ? `{"id":"${eventId}"}` : "{}", { status: 200, headers });
}

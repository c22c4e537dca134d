/**
 * Sentry's answer to admission's verdict. The verdict says which of three answers it is: Sentry's
 * rate limit passed back (429 with Retry-After and X-Sentry-Rate-Limits, as Relay), a refusal of
 * cyclops's own (overload, storage fault: also 429 with both headers, never a 5xx, which SDKs
 * count as a send error and drop), or 200 (the original's X-CYCLOPS-STATUS: PROCESSED when queued, IGNORED when
 * answered and dropped). A new outcome needs no change here.
 */
import type { Verdict } from "../admission/verdict.ts";
import { accepted, jsonError } from "./responses.ts";

export function answer(verdict: Verdict, eventId: string | null, gif: boolean): Response {
  const { limit, refusal } = verdict;
  if (limit !== null) {
    return jsonError(429, "event submission rejected with_reason: RateLimited", undefined, {
      "Retry-After": String(limit.retryAfter),
      "X-Sentry-Rate-Limits": limit.header,
    });
  }
  if (refusal !== null) {
    return jsonError(429, refusal.detail, [refusal.message], { "Retry-After": String(refusal.retryAfter), "X-Sentry-Rate-Limits": refusal.header });
  }
  return accepted(eventId, verdict.outcome.series === "accepted" ? "PROCESSED" : "IGNORED", verdict.cacheCount, gif);
}

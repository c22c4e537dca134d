/**
 * Sentry's answer to admission's verdict. The verdict says which of three answers it is: a rate
 * limit (429 with Retry-After and X-Sentry-Rate-Limits, as Relay), a storage refusal (503 with
 * Retry-After), or 200 (the original's X-CYCLOPS-STATUS: PROCESSED when queued, IGNORED when
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
  if (refusal !== null) return jsonError(503, "failed to queue envelope", [refusal.message], { "Retry-After": String(refusal.retryAfter) });
  return accepted(eventId, verdict.outcome.series === "accepted" ? "PROCESSED" : "IGNORED", verdict.cacheCount, gif);
}

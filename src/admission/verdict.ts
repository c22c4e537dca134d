/**
 * What admission decided for one report: its outcome, and what the answer needs to say about it.
 * The server turns a verdict into Sentry's answer (src/server/answer.ts); stats were recorded by
 * admission when it decided.
 */
import type { Outcome } from "../outcome/outcomes.ts";

/** A rate limit to pass back: Retry-After seconds and the X-Sentry-Rate-Limits value. */
export interface RateLimitAnswer {
  retryAfter: number;
  header: string;
}

/** Why the storage could not take the report, and when to try again. */
export interface Refusal {
  message: string;
  retryAfter: number;
}

export interface Verdict {
  readonly outcome: Outcome;
  /** The report's count in its flood window (X-CYCLOPS-CACHE-COUNT); 0 when not counted. */
  readonly cacheCount: number;
  /** Set when the report is refused for a rate limit (answered 429 with these headers). */
  readonly limit: RateLimitAnswer | null;
  /** Set when the storage refused the report (answered 503). */
  readonly refusal: Refusal | null;
}

/** Verdicts by outcome and count, built once: accepting a report allocates no verdict. */
const CACHED_COUNTS = 256;
const cache = new Map<Outcome, Verdict[]>();

/** A verdict that needs nothing but its outcome and flood count (accepted, flood, sampled). */
export function verdict(outcome: Outcome, cacheCount: number): Verdict {
  let byCount = cache.get(outcome);
  if (byCount === undefined) cache.set(outcome, (byCount = []));
  const cached = byCount[cacheCount];
  if (cached !== undefined) return cached;
  const v: Verdict = Object.freeze({ outcome, cacheCount, limit: null, refusal: null });
  if (cacheCount <= CACHED_COUNTS) byCount[cacheCount] = v;
  return v;
}

export function rateLimited(outcome: Outcome, limit: RateLimitAnswer): Verdict {
  return { outcome, cacheCount: 0, limit, refusal: null };
}

export function refused(outcome: Outcome, refusal: Refusal): Verdict {
  return { outcome, cacheCount: 0, limit: null, refusal };
}

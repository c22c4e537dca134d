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

/**
 * Why cyclops itself refused the report (queue full, storage failing, bodies in flight over
 * budget, keys pending), answered 429 as a rate limit so SDKs back off instead of counting a
 * send error (they discard on any 5xx).
 */
export interface Refusal {
  /** The answer's `detail`. */
  detail: string;
  /** The answer's `causes`: what exactly was full or failing. */
  message: string;
  retryAfter: number;
  /** X-Sentry-Rate-Limits (docs/PROTOCOL.md §6): `retry_after:categories:organization:<outcome name>`. */
  header: string;
}

export interface Verdict {
  readonly outcome: Outcome;
  /** The report's count in its flood window (X-CYCLOPS-CACHE-COUNT); 0 when not counted. */
  readonly cacheCount: number;
  /** Set when the report is refused for a rate limit (answered 429 with these headers). */
  readonly limit: RateLimitAnswer | null;
  /** Set when cyclops itself refused the report (answered 429, see Refusal). */
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

/**
 * A refusal of cyclops's own. The rate-limit header names the refused report's category (none,
 * meaning all, when the body was never read) and the outcome as the reason code; the scope is
 * `organization` because the bound is the gateway's, not one key's or project's.
 */
export function refused(outcome: Outcome, why: { detail: string; message: string; retryAfter: number }, category: string | null): Verdict {
  const retryAfter = Math.max(1, Math.ceil(why.retryAfter));
  const header = `${retryAfter}:${category ?? ""}:organization:${outcome.name}`;
  return { outcome, cacheCount: 0, limit: null, refusal: { ...why, retryAfter, header } };
}

/**
 * Every counter cyclops keeps, declared once with its meaning. /count, /metrics and client
 * reports all read from here; the request path only does `+= 1` on plain fields.
 */

/** Why a report was not queued (answered anyway, or refused). */
export const DROP_REASONS = {
  flood: "same error more than MAX_CACHE_USES times in URL_CACHE_EXPIRATION seconds (answered 200, dropped)",
  sampled: "sampled out by IGNORE_PERCENTAGE (answered 200, dropped)",
  unknown_key: "unknown, disabled or wrong-project key (403)",
  invalid: "malformed request: auth, body, JSON or envelope (400/401/405/415)",
  too_large: "body over MAX_EVENT_SIZE / MAX_ENVELOPE_SIZE (413)",
  queue_full: "queue at MAX_QUEUE_ITEMS or MAX_QUEUE_BYTES, or storage unavailable (503)",
  rate_limited: "Sentry rate-limited this key; passed back to the client (429)",
  spike: "over the project's spike protection limit (SPIKE_RESPONSE accept: answered 200, dropped; rate-limit: 429)",
} as const;
export type DropReason = keyof typeof DROP_REASONS;

/** What became of a forwarded item. */
export const FORWARD_OUTCOMES = {
  delivered: "Sentry answered 2xx",
  retried: "Sentry did not receive it (network error, timeout, 5xx) or rate-limited it (429); kept for a retry",
  rejected: "Sentry answered a 4xx other than 429: it will never take it; dropped",
  expired: "older than MAX_ITEM_AGE or retried more than MAX_RETRIES; dropped",
} as const;
export type ForwardOutcome = keyof typeof FORWARD_OUTCOMES;

/**
 * Client-report bookkeeping: what was discarded, by project, reason (Sentry's client-report
 * reason names) and data category, until the next report is sent.
 */
export type DiscardKey = `${number}|${string}|${string}`;

/**
 * Most projects counted one by one (metrics, client reports). With RESTRICT_API_ACCESS=false any
 * project id in a URL is taken, so without a bound a client cycling through ids would grow these
 * maps without end; past it, per-project counts of new projects are not kept (the totals are).
 */
export const MAX_TRACKED_PROJECTS = 10_000;
/** Most pending client-report entries (project × reason × category) between two reports. */
export const MAX_PENDING_DISCARDS = 50_000;

type ProjectCounts = { processed: number; ignored: number; delivered: number };

export class Stats {
  /** Requests that reached an ingest route. */
  received = 0;
  /** Accepted and queued (the original's `processed`). */
  processed = 0;
  readonly dropped: Record<DropReason, number> = {
    flood: 0, sampled: 0, unknown_key: 0, invalid: 0, too_large: 0, queue_full: 0, rate_limited: 0, spike: 0,
  };
  readonly forwarded: Record<ForwardOutcome, number> = { delivered: 0, retried: 0, rejected: 0, expired: 0 };
  /** Upstream requests in flight now. */
  inFlight = 0;
  /** Per-project received/processed/dropped counts, for metrics labelled by project. */
  readonly perProject = new Map<number, { processed: number; ignored: number; delivered: number }>();
  /** Pending client-report quantities: "project|reason|category" → count. */
  readonly discarded = new Map<DiscardKey, number>();

  /** The original's `ignored`: flood and sampling drops. */
  get ignored(): number {
    return this.dropped.flood + this.dropped.sampled;
  }

  /** Counts not kept per project or per discard key because the bounds above were reached. */
  untracked = 0;
  /** Where counts of projects past MAX_TRACKED_PROJECTS go: written, never read. */
  private readonly overflow: ProjectCounts = { processed: 0, ignored: 0, delivered: 0 };

  project(id: number): ProjectCounts {
    let p = this.perProject.get(id);
    if (!p) {
      if (this.perProject.size >= MAX_TRACKED_PROJECTS) {
        this.untracked++;
        return this.overflow;
      }
      p = { processed: 0, ignored: 0, delivered: 0 };
      this.perProject.set(id, p);
    }
    return p;
  }

  /** Records a discard for the next client report of `projectId`. */
  discard(projectId: number, reason: string, category: string, quantity = 1): void {
    const key: DiscardKey = `${projectId}|${reason}|${category}`;
    const pending = this.discarded.get(key);
    if (pending === undefined && this.discarded.size >= MAX_PENDING_DISCARDS) {
      this.untracked++;
      return;
    }
    this.discarded.set(key, (pending ?? 0) + quantity);
  }
}

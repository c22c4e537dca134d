/**
 * The forwarder's bookkeeping around each send: before it, an expired item is dropped and a
 * project Sentry rate-limited is held; after it, the item is settled from upstream.ts's one
 * classification (ack, release, or drop and count), Sentry's limits are kept, and the outage
 * state follows the answers. Also the forwarder's log-once for repeated causes.
 */
import type { Config } from "../config/schema.ts";
import { OUTCOMES } from "../outcome/outcomes.ts";
import type { Stats } from "../stats/counters.ts";
import type { QueuedItem } from "../storage/item.ts";
import type { Queue } from "../storage/queue.ts";
import type { Outage } from "./pacer.ts";
import { RateLimits } from "./rate-limits.ts";
import { expiryOf, itemCategoryOf, type Outcome } from "./upstream.ts";

/** The logging the forwarder needs; a pino logger satisfies it. */
export interface Log {
  debug(o: object, m: string): void;
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
}

const MAX_LOGGED_CAUSES = 1000;

export class Settlement {
  readonly limits = new RateLimits();
  private readonly pausedUntil = new Map<number, number>();
  private readonly loggedCauses = new Set<string>();

  constructor(
    private readonly cfg: Config,
    private readonly queue: Queue,
    private readonly stats: Stats,
    private readonly log: Log,
    readonly outage: Outage,
    private readonly now: () => number,
  ) {}

  /** Projects held for a rate limit now. */
  pausedProjects(now: number): number {
    let paused = 0;
    for (const until of this.pausedUntil.values()) if (until > now) paused++;
    return paused;
  }

  readonly isPaused = (projectId: number): boolean => {
    const until = this.pausedUntil.get(projectId);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.pausedUntil.delete(projectId);
    return false;
  };

  /** Before sending: drops an expired item, holds one of a rate-limited project; true when it settled the item. */
  async settledBeforeSending(item: QueuedItem, now: number): Promise<boolean> {
    const expiry = expiryOf(item, now, this.cfg);
    if (expiry) {
      this.stats.record(OUTCOMES.expired, item.projectId, itemCategoryOf(item));
      this.logOnce(
        `expired:${expiry}`,
        "warn",
        { projectId: item.projectId, attempts: item.attempts },
        expiry === "age"
          ? `dropping reports older than MAX_ITEM_AGE (${this.cfg.MAX_ITEM_AGE} s)`
          : `dropping reports that failed more than MAX_RETRIES (${this.cfg.MAX_RETRIES}) times`,
      );
      await this.queue.ack(item);
      return true;
    }
    // A limit learned from an earlier answer (even a 200): do not walk into the 429.
    const limitedUntil = this.limits.has(item.projectId) ? this.limits.until(item.projectId, itemCategoryOf(item), now) : 0;
    if (limitedUntil > 0) {
      this.pause(item.projectId, limitedUntil);
      await this.queue.release(item, false);
      return true;
    }
    return false;
  }

  async settle(item: QueuedItem, outcome: Outcome, now: number): Promise<void> {
    const projectId = item.projectId;
    switch (outcome.kind) {
      case "delivered":
        this.markUp();
        this.stats.record(OUTCOMES.delivered, projectId, null);
        // Proactive limits (on a 200) are kept for ingest and later items; no pause for this one.
        this.limits.apply(projectId, outcome.limits, now);
        await this.queue.ack(item);
        return;
      case "rate_limited": {
        this.markUp();
        this.stats.record(OUTCOMES.retried, projectId, null);
        const latest = this.limits.apply(projectId, outcome.limits, now);
        // Hold the project as long as the limit on this item's category (not a longer one on
        // another category); a 429 naming no matching category holds it for the longest one.
        const covering = this.limits.until(projectId, itemCategoryOf(item), now);
        const until = Math.max(covering > 0 ? covering : latest, now + 1000);
        this.pause(projectId, until);
        this.log.info({ projectId, seconds: Math.ceil((until - now) / 1000) }, "Sentry rate-limited the project; holding its reports");
        await this.queue.release(item, false);
        return;
      }
      case "unavailable":
        this.stats.record(OUTCOMES.retried, projectId, null);
        this.markDown(outcome.cause, now);
        await this.queue.release(item, true);
        return;
      case "rejected":
        this.markUp();
        this.stats.record(OUTCOMES.rejected, projectId, itemCategoryOf(item));
        this.logOnce(
          `rejected:${projectId}:${outcome.cause}`,
          "warn",
          { projectId, status: outcome.status, eventId: item.eventId },
          `Sentry rejected a report (dropped, counted as rejected): ${outcome.cause}`,
        );
        await this.queue.ack(item);
        return;
      case "aborted":
        await this.queue.release(item, false);
        return;
    }
  }

  /** Logs a cause at `level` the first time, at debug after that (a bounded memory of causes). */
  logOnce(cause: string, level: "warn" | "error", obj: object, msg: string): void {
    if (this.loggedCauses.has(cause)) {
      this.log.debug(obj, msg);
      return;
    }
    if (this.loggedCauses.size >= MAX_LOGGED_CAUSES) this.loggedCauses.clear();
    this.loggedCauses.add(cause);
    this.log[level](obj, msg);
  }

  private pause(projectId: number, until: number): void {
    if ((this.pausedUntil.get(projectId) ?? 0) < until) this.pausedUntil.set(projectId, until);
  }

  private markUp(): void {
    if (this.outage.up()) this.log.warn({ url: this.cfg.SENTRY_BASE_URL }, "Sentry is reachable again; resuming");
  }

  private markDown(cause: string, now: number): void {
    const backoff = this.outage.down(now);
    if (backoff?.first) {
      this.log.warn({ url: this.cfg.SENTRY_BASE_URL, cause }, "Sentry unreachable; keeping reports queued and retrying with backoff");
    } else if (backoff) {
      this.log.debug({ cause, retryInMs: Math.round(backoff.waitMs), attempt: backoff.attempt }, "Sentry still unreachable");
    }
  }
}

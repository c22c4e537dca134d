/**
 * The log lines that tell what the gateway does, from a look at its state once a second: the
 * queue passing 50/80/100 % of its limits (and back), a summary each minute while anything was
 * dropped, project keys loading again after failures, and no key at all. Lines come on changes,
 * never per request.
 */
import type { Logger } from "../log.ts";
import type { DropReason, Stats } from "../stats/counters.ts";

export const QUEUE_LEVELS = [50, 80, 100] as const;

export interface QueueLevel {
  items: number;
  bytes: number;
  maxItems: number;
  maxBytes: number;
}

export interface KeysState {
  ready: boolean;
  size: number;
  lastError: string | null;
  sources: string[];
}

export class Narrator {
  /** The highest of QUEUE_LEVELS the queue has passed (0: under the first). */
  private queueLevel = 0;
  private lastDropped: Record<string, number>;
  private minuteStart: number;
  private keysFailing = false;
  private noKeysWarned = false;

  constructor(
    private readonly log: Logger,
    private readonly stats: Stats,
    now: number,
  ) {
    this.lastDropped = { ...stats.dropped };
    this.minuteStart = now;
  }

  /** The queue's fill: a line when it passes a level upward, and when it is back under the first. */
  queue(q: QueueLevel): void {
    const fill = Math.max(q.items / q.maxItems, q.bytes / q.maxBytes) * 100;
    let level = 0;
    for (const l of QUEUE_LEVELS) if (fill >= l) level = l;
    if (level > this.queueLevel) {
      const facts = { items: q.items, bytes: q.bytes, max_items: q.maxItems, max_bytes: q.maxBytes, percent: Math.floor(fill) };
      if (level === 100) this.log.error(facts, "queue full: new reports are refused with 429 until Sentry takes some");
      else this.log.warn(facts, `queue passed ${level} % of its limit`);
      this.queueLevel = level;
    } else if (level === 0 && this.queueLevel > 0) {
      this.log.info({ items: q.items, bytes: q.bytes, percent: Math.floor(fill) }, `queue back under ${QUEUE_LEVELS[0]} % of its limit`);
      this.queueLevel = 0;
    }
    // Falling between levels is not news, and passing them again is not either until the queue
    // was back under the first: a queue hovering at a level gives one line, not one a second.
  }

  /** Each minute that saw drops: one line with the counts by reason. */
  drops(now: number): void {
    if (now - this.minuteStart < 60_000) return;
    const counts: Partial<Record<DropReason, number>> = {};
    let total = 0;
    for (const [reason, n] of Object.entries(this.stats.dropped) as Array<[DropReason, number]>) {
      const d = n - (this.lastDropped[reason] ?? 0);
      if (d > 0) counts[reason] = d;
      total += d;
    }
    this.lastDropped = { ...this.stats.dropped };
    const seconds = Math.round((now - this.minuteStart) / 1000);
    this.minuteStart = now;
    if (total > 0) this.log.info({ dropped: total, by_reason: counts, seconds }, `dropped ${total} reports in the last ${seconds} s`);
  }

  /** The same warning was given at start (no key configured at all). */
  noKeysWarnedAtStart(): void {
    this.noKeysWarned = true;
  }

  /** Key refresh recovering after failures (each failure is logged where it happens), and no key at all. */
  keys(k: KeysState, restricted: boolean): void {
    if (k.lastError !== null) this.keysFailing = true;
    else if (this.keysFailing && k.ready) {
      this.keysFailing = false;
      this.log.info({ keys: k.size, sources: k.sources }, "project keys loaded again");
    }
    if (restricted && k.ready && k.size === 0 && !this.noKeysWarned) {
      this.noKeysWarned = true;
      this.log.warn({ sources: k.sources }, "no project keys loaded: every report is refused with 403 until keys are configured (PROJECT_KEYS or DB_BACKEND)");
    } else if (k.size > 0) {
      this.noKeysWarned = false;
    }
  }
}

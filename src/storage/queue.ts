/**
 * The queue between ingest and the forwarder. Three implementations live beside this file
 * (memory.ts, sqlite.ts, redis.ts) and all pass test/contracts/queue.contract.ts.
 *
 * Semantics every implementation keeps:
 * - One queue per project. `take` serves projects round-robin (one item per non-empty, non-paused
 *   project in turn) so one project's storm cannot starve the others; within a project, newest
 *   first when `newestFirst`, else oldest first.
 * - A taken item is leased, not removed: `ack` deletes it; `release` puts it back (for a retry);
 *   an item whose holder died comes back by itself (durable storages: at restart or lease expiry).
 * - Bounded by items and bytes: `push` throws QueueFullError past either bound, and the client
 *   is answered 429 with Retry-After (admission.ts).
 * - `push` resolves only once the item is as durable as the storage promises (SQLite: committed
 *   to the file; Redis: acknowledged by Redis), so a 200 is never given for something not kept.
 *   Memory returns undefined (synchronous) so the hot path needs no await.
 */
import type { NewItem, QueuedItem } from "./item.ts";

/**
 * One report's part in the flood cut, for pushCounted: its key (a counter store's FloodKey), the
 * window, and the count past which it is dropped. Declared here, not in throttle/, so storage
 * and the counters stay independent of each other.
 */
export interface FloodCount {
  key: number | string;
  windowSeconds: number;
  /** MAX_CACHE_USES: a count above it is a flood. */
  maxUses: number;
}

export class QueueFullError extends Error {
  override name = "QueueFullError";
  constructor(
    public readonly reason: "items" | "bytes",
    /** Seconds the client should wait before retrying. */
    public readonly retryAfter = 60,
  ) {
    super(`queue full (${reason})`);
  }
}

/** The storage cannot take anything right now (Redis down, SQLite unwritable, disk full). */
export class StorageUnavailableError extends Error {
  override name = "StorageUnavailableError";
  constructor(
    message: string,
    public readonly retryAfter = 10,
  ) {
    super(message);
  }
}

export interface QueueStats {
  items: number;
  bytes: number;
  perProject: Map<number, { items: number; bytes: number }>;
}

/** The stats of a queue whose totals are the sum of its projects' (every store counts the same way). */
export function statsOfProjects(perProject: QueueStats["perProject"]): QueueStats {
  let items = 0;
  let bytes = 0;
  for (const p of perProject.values()) {
    items += p.items;
    bytes += p.bytes;
  }
  return { items, bytes, perProject };
}

export interface TakeOptions {
  /** Projects to skip this round (rate-limited by Sentry). */
  isPaused?: (projectId: number) => boolean;
}

export interface Queue {
  readonly kind: "memory" | "sqlite" | "redis";
  /** Adds an item; throws QueueFullError or StorageUnavailableError. */
  push(item: NewItem): void | Promise<void>;
  /**
   * Optional, for storages that can hold the flood counters too (Redis): counts `flood.key` in
   * the storage's own counter keys and pushes only when the count is within `flood.maxUses`, in
   * one step. Returns the count. Used only when the counters are of the same kind and config.
   */
  pushCounted?(item: NewItem, flood: FloodCount): Promise<number>;
  /** Leases up to `max` items, round-robin across projects (see above). */
  take(max: number, opts?: TakeOptions): Promise<QueuedItem[]>;
  /** Sentry has it (or will never take it): delete for good. */
  ack(item: QueuedItem): Promise<void>;
  /** Not delivered: put it back with `attempts` incremented when `failed`. */
  release(item: QueuedItem, failed: boolean): Promise<void>;
  stats(): Promise<QueueStats>;
  /** Approximate item count without I/O, for /count and backpressure hints. */
  readonly approxItems: number;
  /** Health of the backing store, for /healthcheck. null when healthy. */
  problem(): string | null;
  /**
   * Durable storages that can keep a small named document in their own file (SQLite), so state
   * that must outlive a restart (spike protection's learned limits) lives with the storage.
   */
  readMeta?(name: string): string | null;
  writeMeta?(name: string, value: string): void;
  /** Shared storages: resolves once connected (rejects after `timeoutMs`), so start-up need not 503. */
  waitReady?(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface QueueLimits {
  maxItems: number;
  maxBytes: number;
  newestFirst: boolean;
}

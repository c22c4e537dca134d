/**
 * Flood counters in this process's memory (CACHE_IMPLEMENTATION_CLASS=memory, and the fallback
 * of the Redis store while Redis is down).
 *
 * Hot path: one Map lookup, one compare, one `++` for a key already counting in its window; no
 * allocation. A new key (or a key whose window ended) costs one small object.
 *
 * Memory stays bounded under a flood of distinct keys in two ways:
 * - every insert advances a sweep cursor over the map by a couple of entries and deletes those
 *   whose window ended, so expired keys are reclaimed at the rate new ones arrive;
 * - a hard cap (`maxEntries`) evicts the oldest-inserted entries when still exceeded (a flood of
 *   distinct keys inside one window), trading an early window restart for a bounded heap.
 */
import type { CounterStore } from "./counter-store.ts";

interface Window {
  count: number;
  /** Clock value (ms) at which this window ends. */
  endsAt: number;
}

export interface MemoryCounterStoreOptions {
  /** Most keys held at once; past it the oldest are evicted. Default 1,000,000. */
  maxEntries?: number;
  /** Milliseconds clock; injectable for tests. Default Date.now. */
  now?: () => number;
}

/** Entries examined per insert by the incremental sweep: > 1 so the sweep outpaces inserts. */
const SWEEP_STEP = 2;

export class MemoryCounterStore implements CounterStore {
  readonly kind = "memory" as const;
  private readonly windows = new Map<string, Window>();
  private readonly maxEntries: number;
  private readonly now: () => number;
  /** Live iterator over `windows`; Map iterators survive deletes and see later inserts. */
  private sweeper: MapIterator<[string, Window]> | null = null;

  constructor(options: MemoryCounterStoreOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 1_000_000);
    this.now = options.now ?? Date.now;
  }

  increment(key: string, windowSeconds: number): number {
    const now = this.now();
    const w = this.windows.get(key);
    if (w !== undefined && w.endsAt > now) return ++w.count;
    // New window: delete first so the key moves to the end of insertion order, which keeps the
    // map ordered by window start and makes "oldest first" eviction correct.
    if (w !== undefined) this.windows.delete(key);
    this.windows.set(key, { count: 1, endsAt: now + windowSeconds * 1000 });
    this.sweep(now);
    if (this.windows.size > this.maxEntries) this.evictOldest(this.windows.size - this.maxEntries);
    return 1;
  }

  /** Keys held now (expired ones not yet swept included); for tests and metrics. */
  get size(): number {
    return this.windows.size;
  }

  problem(): string | null {
    return null;
  }

  async close(): Promise<void> {
    this.windows.clear();
    this.sweeper = null;
  }

  private sweep(now: number): void {
    for (let i = 0; i < SWEEP_STEP; i++) {
      this.sweeper ??= this.windows.entries();
      const next = this.sweeper.next();
      if (next.done) {
        this.sweeper = null; // start a fresh pass on the next insert
        return;
      }
      const [key, w] = next.value;
      if (w.endsAt <= now) this.windows.delete(key);
    }
  }

  private evictOldest(count: number): void {
    for (const key of this.windows.keys()) {
      if (count-- <= 0) return;
      this.windows.delete(key);
    }
  }
}

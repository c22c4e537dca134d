/**
 * Flood counters in this process's memory (CACHE_IMPLEMENTATION_CLASS=memory, and the fallback
 * of the Redis store while Redis is down).
 *
 * Keys live in generations: each window length has a `current` map that new windows go into and
 * a `previous` one, and once a window length has passed since the last turn, `previous` is
 * dropped whole and `current` becomes it. A window that started in a generation ends before that
 * generation is dropped (it is dropped at least one full window after its last insert), so no
 * live window is ever lost; every ended one is gone within two window lengths.
 *
 * Why generations and not a sweep: the hot path is then one or two Map lookups, one compare, one
 * `++`, and a new key costs one small object; there is no per-insert cleanup work at all (an
 * incremental sweep cost about as much as the lookup itself, measured in bench/profile.ts).
 *
 * A hard cap (`maxEntries`) bounds a flood of distinct keys inside one window: when the current
 * generation of a window length reaches it, the generations turn early, dropping the oldest keys
 * (their windows restart early, the price of a bounded heap). Memory: at most 2 × maxEntries keys
 * per window length in use (in practice there is one: URL_CACHE_EXPIRATION).
 */
import type { CounterStore, FloodKey } from "./counter-store.ts";

interface Window {
  count: number;
  /** Clock value (ms) at which this window ends. */
  endsAt: number;
}

interface Generations {
  current: Map<FloodKey, Window>;
  previous: Map<FloodKey, Window>;
  /** Clock value (ms) of the last turn. */
  turnedAt: number;
}

export interface MemoryCounterStoreOptions {
  /** Most keys in one generation; past it the generations turn early. Default 1,000,000. */
  maxEntries?: number;
  /** Milliseconds clock; injectable for tests. Default Date.now. */
  now?: () => number;
}

export class MemoryCounterStore implements CounterStore {
  readonly kind = "memory" as const;
  /** By window length in ms. */
  private readonly byWindow = new Map<number, Generations>();
  /** The last window length used and its generations: every call in the product uses one. */
  private lastWindowMs = -1;
  private last: Generations | null = null;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: MemoryCounterStoreOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 1_000_000);
    this.now = options.now ?? Date.now;
  }

  increment(key: FloodKey, windowSeconds: number): number {
    const now = this.now();
    const windowMs = windowSeconds * 1000;
    const g = this.generations(windowMs, now);
    const w = g.current.get(key) ?? g.previous.get(key);
    if (w !== undefined && w.endsAt > now) return ++w.count;
    if (g.current.size >= this.maxEntries) this.turn(g, now);
    // A restarted window goes into the current generation (a stale copy in previous is shadowed).
    g.current.set(key, { count: 1, endsAt: now + windowMs });
    return 1;
  }

  /** Keys held now (ended windows not yet dropped included); for tests and metrics. */
  get size(): number {
    let n = 0;
    for (const g of this.byWindow.values()) n += g.current.size + g.previous.size;
    return n;
  }

  problem(): string | null {
    return null;
  }

  async close(): Promise<void> {
    this.byWindow.clear();
    this.last = null;
    this.lastWindowMs = -1;
  }

  private generations(windowMs: number, now: number): Generations {
    let g = windowMs === this.lastWindowMs ? this.last : null;
    if (g === null) {
      g = this.byWindow.get(windowMs) ?? null;
      if (g === null) {
        g = { current: new Map(), previous: new Map(), turnedAt: now };
        this.byWindow.set(windowMs, g);
      }
      this.last = g;
      this.lastWindowMs = windowMs;
    }
    const sinceTurn = now - g.turnedAt;
    if (sinceTurn >= windowMs) {
      this.turn(g, now);
      // Every insert into the old current came before turnedAt + windowMs (a later call would
      // have turned), so after two windows it holds only ended windows too.
      if (sinceTurn >= 2 * windowMs) g.previous = new Map();
    }
    return g;
  }

  private turn(g: Generations, now: number): void {
    g.previous = g.current;
    g.current = new Map();
    g.turnedAt = now;
  }
}

/**
 * Flood counters in Redis (CACHE_IMPLEMENTATION_CLASS=redis), shared by a farm so MAX_CACHE_USES
 * holds across all its instances.
 *
 * One round trip per increment: incr-1.lua does INCR and, on a window's first increment, PEXPIRE,
 * so every counter carries its expiry. Auto-pipelining (connection.ts) batches the increments of
 * concurrent requests into shared round trips.
 *
 * While Redis is down: with `fallbackToMemory` (REDIS_FALLBACK_TO_MEMORY) the counts go to a
 * per-instance MemoryCounterStore, so floods are still dropped, only not farm-wide; otherwise
 * increment throws CounterUnavailableError (the client is answered 429).
 */
import { RedisConnection, type RedisSettings } from "../redis/connection.ts";
import { counterKey } from "../redis/keys.ts";
import { SCRIPTS, windowMs } from "../redis/scripts.ts";
import { CounterUnavailableError, type CounterStore, type FloodKey } from "./counter-store.ts";
import { MemoryCounterStore } from "./memory.ts";

export interface RedisCounterStoreOptions {
  /** Count in memory while Redis is down instead of throwing CounterUnavailableError. */
  fallbackToMemory?: boolean;
}

export class RedisCounterStore implements CounterStore {
  readonly kind = "redis" as const;
  readonly connection: RedisConnection;
  private readonly prefix: string;
  private readonly fallback: MemoryCounterStore | null;
  private closed = false;

  constructor(settings: RedisSettings, options: RedisCounterStoreOptions = {}) {
    this.connection = new RedisConnection(settings);
    this.prefix = settings.prefix;
    this.fallback = options.fallbackToMemory ? new MemoryCounterStore() : null;
  }

  /** Resolves once connected; increments before that fall back or are refused. */
  waitReady(timeoutMs?: number): Promise<void> {
    return this.connection.waitReady(timeoutMs);
  }

  increment(key: FloodKey, windowSeconds: number): number | Promise<number> {
    if (this.closed || !this.connection.isReady) return this.unavailable(key, windowSeconds, null);
    return SCRIPTS.incr.run(this.connection.client, [counterKey(this.prefix, key)], [windowMs(windowSeconds)]).then(Number, (e: Error) => this.unavailable(key, windowSeconds, e));
  }

  problem(): string | null {
    if (this.closed) return "Redis counters are closed";
    const p = this.connection.problem();
    if (p === null || this.fallback === null) return p;
    return `${p} (counting floods in memory meanwhile)`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connection.close();
    await this.fallback?.close();
  }

  private unavailable(key: FloodKey, windowSeconds: number, error: Error | null): number {
    if (this.fallback !== null && !this.closed) return this.fallback.increment(key, windowSeconds);
    const why = this.closed ? "counter store is closed" : (error?.message ?? this.connection.problem() ?? "Redis not connected");
    throw new CounterUnavailableError(`flood counters unavailable: ${why}`);
  }
}

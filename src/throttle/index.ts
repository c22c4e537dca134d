/**
 * Picks the flood counter store named by CACHE_IMPLEMENTATION_CLASS. The Redis one (and ioredis)
 * is loaded only when chosen, which keeps the binary's start-up short.
 */
import type { Config } from "../config/schema.ts";
import type { CounterStore } from "./counter-store.ts";
import { MemoryCounterStore } from "./memory.ts";

export async function createCounterStore(config: Config): Promise<CounterStore> {
  switch (config.CACHE_IMPLEMENTATION_CLASS) {
    case "memory":
      return new MemoryCounterStore();
    case "redis": {
      const [{ RedisCounterStore }, { redisSettings }] = await Promise.all([import("./redis.ts"), import("../redis/connection.ts")]);
      return new RedisCounterStore(redisSettings(config), { fallbackToMemory: config.REDIS_FALLBACK_TO_MEMORY });
    }
  }
}

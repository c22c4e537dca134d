/** Picks the flood counter store named by CACHE_IMPLEMENTATION_CLASS. */
import type { Config } from "../config/schema.ts";
import { redisSettings } from "../storage/redis/connection.ts";
import type { CounterStore } from "./counter-store.ts";
import { MemoryCounterStore } from "./memory.ts";
import { RedisCounterStore } from "./redis.ts";

export function createCounterStore(config: Config): CounterStore {
  switch (config.CACHE_IMPLEMENTATION_CLASS) {
    case "memory":
      return new MemoryCounterStore();
    case "redis":
      return new RedisCounterStore(redisSettings(config), { fallbackToMemory: config.REDIS_FALLBACK_TO_MEMORY });
  }
}

/** Picks the queue named by STORAGE and configures it from the options. */
import type { Config } from "../config/schema.ts";
import { MemoryQueue } from "./memory.ts";
import type { Queue, QueueLimits } from "./queue.ts";

export function queueLimits(config: Config): QueueLimits {
  return {
    maxItems: config.MAX_QUEUE_ITEMS,
    maxBytes: config.MAX_QUEUE_BYTES,
    newestFirst: config.PROCESS_NEWER_MESSAGES_FIRST,
  };
}

/**
 * Throws StorageUnavailableError when the SQLite spool cannot be opened. The SQLite and Redis
 * modules (and ioredis) are loaded only when chosen, which keeps the binary's start-up short.
 */
export async function createQueue(config: Config): Promise<Queue> {
  const limits = queueLimits(config);
  switch (config.STORAGE) {
    case "memory":
      return new MemoryQueue(limits);
    case "sqlite": {
      const { SqliteQueue } = await import("./sqlite.ts");
      return new SqliteQueue(config.SQLITE_PATH, limits);
    }
    case "redis": {
      const [{ RedisQueue }, { redisSettings }] = await Promise.all([import("./redis.ts"), import("../redis/connection.ts")]);
      return new RedisQueue(redisSettings(config), limits, {
        leaseMs: config.REDIS_LEASE_TIME * 1000,
        compress: config.REDIS_COMPRESSION === "zstd",
        waitReplicas: config.REDIS_WAIT_REPLICAS,
      });
    }
  }
}

/**
 * The one-step flood cut and push (Queue.pushCounted), when the counters live where the queue
 * does: STORAGE and CACHE_IMPLEMENTATION_CLASS both redis, built from the same REDIS_* settings
 * (the queue then keeps the flood counters in each project's hash slot, beside its queue).
 * Otherwise undefined: count, then push.
 */
export function oneStepFloodCut(queue: Queue, counters: { readonly kind: string }): Queue["pushCounted"] {
  return queue.pushCounted && counters.kind === queue.kind ? queue.pushCounted.bind(queue) : undefined;
}

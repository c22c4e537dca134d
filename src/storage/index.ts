/** Picks the queue named by STORAGE and configures it from the options. */
import type { Config } from "../config/schema.ts";
import { MemoryQueue } from "./memory.ts";
import type { Queue, QueueLimits } from "./queue.ts";
import { RedisQueue } from "./redis.ts";
import { redisSettings } from "./redis/connection.ts";
import { SqliteQueue } from "./sqlite.ts";

export function queueLimits(config: Config): QueueLimits {
  return {
    maxItems: config.MAX_QUEUE_ITEMS,
    maxBytes: config.MAX_QUEUE_BYTES,
    newestFirst: config.PROCESS_NEWER_MESSAGES_FIRST,
  };
}

/** Throws StorageUnavailableError when the SQLite spool cannot be opened. */
export function createQueue(config: Config): Queue {
  const limits = queueLimits(config);
  switch (config.STORAGE) {
    case "memory":
      return new MemoryQueue(limits);
    case "sqlite":
      return new SqliteQueue(config.SQLITE_PATH, limits);
    case "redis":
      return new RedisQueue(redisSettings(config), limits, { leaseMs: config.REDIS_LEASE_TIME * 1000 });
  }
}

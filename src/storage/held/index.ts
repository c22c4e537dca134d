/** The held reports' store beside the queue's storage: the spool's file, the same Redis, or memory. */
import type { Queue } from "../queue.ts";
import type { RedisQueue } from "../redis.ts";
import type { SqliteQueue } from "../sqlite.ts";
import { MemoryHeldStore } from "./memory.ts";
import type { HeldStore } from "./store.ts";

export type { HeldReport, HeldStore, StoredHeldReport } from "./store.ts";

/** `prefix`: REDIS_KEY_PREFIX, for Redis storage. The SQLite and Redis stores load only when chosen. */
export async function createHeldStore(queue: Queue, prefix: string): Promise<HeldStore> {
  switch (queue.kind) {
    case "memory":
      return new MemoryHeldStore();
    case "sqlite": {
      const { SqliteHeldStore } = await import("./sqlite.ts");
      return new SqliteHeldStore(queue as SqliteQueue);
    }
    case "redis": {
      const { RedisHeldStore } = await import("./redis.ts");
      return new RedisHeldStore((queue as RedisQueue).connection, prefix);
    }
  }
}

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaults, type Config } from "../../src/config/schema.ts";
import { createQueue, oneStepFloodCut, queueLimits } from "../../src/storage/index.ts";
import { RedisQueue } from "../../src/storage/redis.ts";
import { createCounterStore } from "../../src/throttle/index.ts";
import { RedisCounterStore } from "../../src/throttle/redis.ts";
import { describeWith, SERVICE_PORTS, uniqueName } from "../helpers/services.ts";
import { newItem } from "../contracts/queue.contract.ts";
import { deleteRedisPrefix } from "./redis-cleanup.ts";

const dir = mkdtempSync(join(tmpdir(), "cyclops-factory-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = (over: Partial<Config>): Config => ({ ...defaults(), ...over });

describe("createQueue / createCounterStore", () => {
  test("the limits come from MAX_QUEUE_ITEMS, MAX_QUEUE_BYTES and PROCESS_NEWER_MESSAGES_FIRST", () => {
    expect(queueLimits(config({ MAX_QUEUE_ITEMS: 5, MAX_QUEUE_BYTES: 7, PROCESS_NEWER_MESSAGES_FIRST: false }))).toEqual({ maxItems: 5, maxBytes: 7, newestFirst: false });
  });

  test("memory is the default for both", async () => {
    const q = await createQueue(config({ MAX_QUEUE_ITEMS: 1 }));
    expect(q.kind).toBe("memory");
    q.push(newItem(1, "a"));
    expect(() => q.push(newItem(1, "b"))).toThrow("queue full (items)");
    await q.close();
    const c = await createCounterStore(config({}));
    expect(c.kind).toBe("memory");
    await c.close();
  });

  test("sqlite opens SQLITE_PATH", async () => {
    const path = join(dir, "spool.sqlite");
    const q = await createQueue(config({ STORAGE: "sqlite", SQLITE_PATH: path }));
    expect(q.kind).toBe("sqlite");
    await q.push(newItem(1, "a"));
    await q.close();
    const again = await createQueue(config({ STORAGE: "sqlite", SQLITE_PATH: path }));
    expect(again.approxItems).toBe(1);
    await again.close();
  });
});

await describeWith("redis", "createQueue / createCounterStore with Redis", () => {
  test("redis uses REDIS_HOST, REDIS_PORT, REDIS_DB_COUNT and REDIS_KEY_PREFIX", async () => {
    const prefix = uniqueName();
    const c = config({
      STORAGE: "redis",
      CACHE_IMPLEMENTATION_CLASS: "redis",
      REDIS_HOST: "127.0.0.1",
      REDIS_PORT: SERVICE_PORTS.redis,
      REDIS_KEY_PREFIX: prefix,
      REDIS_FALLBACK_TO_MEMORY: true,
    });
    const q = (await createQueue(c)) as RedisQueue;
    const counters = (await createCounterStore(c)) as RedisCounterStore;
    try {
      expect(q.kind).toBe("redis");
      expect(counters.kind).toBe("redis");
      await Promise.all([q.waitReady(), counters.waitReady()]);
      await q.push(newItem(1, "a"));
      expect(await counters.increment("k", 10)).toBe(1);
      const keys = await q.connection.client.keys(`*${prefix}*`);
      expect(keys.length).toBeGreaterThan(0);
      for (const k of keys) expect(k.startsWith(`{${prefix}}:`) || k.startsWith(`{${prefix}:`)).toBe(true);
    } finally {
      await Promise.all([q.close(), counters.close()]);
      await deleteRedisPrefix(prefix);
    }
  });

  test("the flood cut and the push go in one step only when both are in Redis", async () => {
    const prefix = uniqueName();
    const redis = { REDIS_HOST: "127.0.0.1", REDIS_PORT: SERVICE_PORTS.redis, REDIS_KEY_PREFIX: prefix };
    const redisQueue = await createQueue(config({ STORAGE: "redis", ...redis }));
    const redisCounters = await createCounterStore(config({ CACHE_IMPLEMENTATION_CLASS: "redis", ...redis }));
    const memoryQueue = await createQueue(config({}));
    const memoryCounters = await createCounterStore(config({}));
    try {
      await Promise.all([redisQueue.waitReady!(), redisCounters.waitReady!()]);
      expect(oneStepFloodCut(memoryQueue, memoryCounters)).toBeUndefined();
      expect(oneStepFloodCut(redisQueue, memoryCounters)).toBeUndefined();
      expect(oneStepFloodCut(memoryQueue, redisCounters)).toBeUndefined();
      const step = oneStepFloodCut(redisQueue, redisCounters)!;
      expect(await step(newItem(1, "a"), { key: "k", windowSeconds: 10, maxUses: 1 })).toBe(1);
      expect(await step(newItem(1, "b"), { key: "k", windowSeconds: 10, maxUses: 1 })).toBe(2);
      // The one-step cut counts in the project's slot (src/redis/keys.ts), the store alone farm-wide.
      expect(await redisCounters.increment("k", 10)).toBe(1);
      expect((await redisQueue.stats()).items).toBe(1);
    } finally {
      await Promise.all([redisQueue.close(), redisCounters.close(), memoryQueue.close(), memoryCounters.close()]);
      await deleteRedisPrefix(prefix);
    }
  });
});

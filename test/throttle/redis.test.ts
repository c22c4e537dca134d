import { expect, test } from "bun:test";
import { Redis } from "ioredis";
import { counterKey } from "../../src/redis/keys.ts";
import { CounterUnavailableError } from "../../src/throttle/counter-store.ts";
import { RedisCounterStore } from "../../src/throttle/redis.ts";
import { describeWith, SERVICE_HOST, SERVICE_PORTS } from "../helpers/services.ts";
import { runCounterStoreContract } from "../contracts/counter-store.contract.ts";
import { countRedisKeys, deleteRedisPrefix, onFreshPrefix, testRedisSettings } from "../storage/redis-cleanup.ts";

const down = { host: "127.0.0.1", port: 1, db: 0, password: null, prefix: "unused", cluster: [] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

await describeWith("redis", "RedisCounterStore", () => {
  runCounterStoreContract("redis", async () => {
    const { made: store, cleanup } = await onFreshPrefix((settings) => new RedisCounterStore(settings));
    return { store, cleanup };
  });

  test("three instances sharing a prefix count together exactly", async () => {
    const settings = testRedisSettings();
    const stores = [0, 1, 2].map(() => new RedisCounterStore(settings));
    try {
      await Promise.all(stores.map((s) => s.waitReady()));
      const counts = await Promise.all(Array.from({ length: 30 }, (_, i) => stores[i % 3]!.increment("shared", 60)));
      expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(await stores[0]!.increment("shared", 60)).toBe(31);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await deleteRedisPrefix(settings.prefix);
    }
  });

  test("every counter carries its window as expiry, set once and never extended", async () => {
    const settings = testRedisSettings();
    const store = new RedisCounterStore(settings);
    const raw = new Redis({ host: SERVICE_HOST, port: SERVICE_PORTS.redis });
    try {
      await store.waitReady();
      const key = counterKey(settings.prefix, "ttl");
      await store.increment("ttl", 30);
      const first = await raw.pttl(key);
      expect(first).toBeGreaterThan(25_000);
      expect(first).toBeLessThanOrEqual(30_000);
      await raw.pexpire(key, 10_000); // a later increment must not push the end back
      await store.increment("ttl", 30);
      expect(await raw.pttl(key)).toBeLessThanOrEqual(10_000);
      await raw.persist(key); // a counter that lost its expiry gets it back
      expect(await store.increment("ttl", 30)).toBe(3);
      expect(await raw.pttl(key)).toBeGreaterThan(0);
    } finally {
      raw.disconnect();
      await store.close();
      await deleteRedisPrefix(settings.prefix);
    }
  });

  test("expired counters leave no key behind", async () => {
    const settings = testRedisSettings();
    const store = new RedisCounterStore(settings);
    try {
      await store.waitReady();
      for (let i = 0; i < 20; i++) await store.increment(`k${i}`, 0.1);
      expect(await countRedisKeys(settings.prefix)).toBe(20);
      await sleep(250);
      expect(await countRedisKeys(settings.prefix)).toBe(0);
    } finally {
      await store.close();
      await deleteRedisPrefix(settings.prefix);
    }
  });
});

// The 3 s timeouts are the "fails fast, does not hang" checks.
test("with Redis down and no fallback, increment throws CounterUnavailableError", async () => {
  const store = new RedisCounterStore(down);
  try {
    await sleep(100);
    let error: unknown;
    try {
      await store.increment("k", 1);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CounterUnavailableError);
    expect(store.problem()).toContain("127.0.0.1:1");
  } finally {
    await store.close();
  }
}, 3000);

test("with Redis down and the memory fallback, counting goes on in memory", async () => {
  const store = new RedisCounterStore(down, { fallbackToMemory: true });
  try {
    await sleep(100);
    expect(await store.increment("k", 60)).toBe(1);
    expect(await store.increment("k", 60)).toBe(2);
    expect(store.problem()).toContain("in memory");
  } finally {
    await store.close();
  }
}, 3000);

await describeWith("redis-cluster", "RedisCounterStore on Redis Cluster", () => {
  runCounterStoreContract("redis cluster", async () => {
    const { made: store, cleanup } = await onFreshPrefix((settings) => new RedisCounterStore(settings), "cluster");
    return { store, cleanup };
  });
});

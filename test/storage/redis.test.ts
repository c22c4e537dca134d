import { describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { StorageUnavailableError, type QueueLimits } from "../../src/storage/queue.ts";
import { RedisQueue } from "../../src/storage/redis.ts";
import { counterKey, projectKeys } from "../../src/redis/keys.ts";
import { RedisCounterStore } from "../../src/throttle/redis.ts";
import { describeWith, SERVICE_HOST, SERVICE_PORTS } from "../helpers/services.ts";
import { encodeItem } from "../../src/storage/item.ts";
import { newItem, runQueueContract } from "../contracts/queue.contract.ts";
import { countRedisKeys, deleteRedisPrefix, onFreshPrefix, testRedisSettings } from "./redis-cleanup.ts";

const limits: QueueLimits = { maxItems: 10_000, maxBytes: 10_000_000, newestFirst: true };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = (b: Uint8Array) => new TextDecoder().decode(b);

await describeWith("redis", "RedisQueue", () => {
  for (const [name, options] of [
    ["redis", {}],
    ["redis, zstd bodies", { compress: true }],
  ] as const) {
    runQueueContract(name, async (l) => {
      const { made: queue, cleanup } = await onFreshPrefix((settings) => new RedisQueue(settings, l, options));
      return { queue, cleanup };
    });
  }

  test("REDIS_COMPRESSION: zstd stores layout 2 in fewer bytes, none stores layout 1, and one farm reads both", async () => {
    const settings = testRedisSettings();
    const plain = new RedisQueue(settings, limits);
    const compressed = new RedisQueue(settings, limits, { compress: true });
    const raw = new Redis({ host: SERVICE_HOST, port: SERVICE_PORTS.redis });
    try {
      await Promise.all([plain.waitReady(), compressed.waitReady()]);
      const body = JSON.stringify({ message: "boom ".repeat(400) });
      await plain.push(newItem(1, body));
      await compressed.push(newItem(1, body));
      await compressed.pushCounted(newItem(1, body), { key: "layout", windowSeconds: 60, maxUses: 5 });
      const stored = (await raw.hvalsBuffer(projectKeys(settings.prefix, 1).items)).map((b) => ({ layout: b.toString("latin1", 0, 3), bytes: b.byteLength }));
      const byLayout = (l: string) => stored.filter((s) => s.layout === l);
      expect(byLayout("[1,")).toHaveLength(1);
      expect(byLayout("[2,")).toHaveLength(2);
      expect(Math.max(...byLayout("[2,").map((s) => s.bytes))).toBeLessThan(byLayout("[1,")[0]!.bytes / 2);
      // Bounds count the bodies as sent, whatever the storage: three reports of body.length each.
      expect((await plain.stats()).bytes).toBe(3 * body.length);
      const taken = [...(await plain.take(10)), ...(await compressed.take(10))];
      expect(taken.map((i) => text(i.body))).toEqual([body, body, body]);
    } finally {
      raw.disconnect();
      await Promise.all([plain.close(), compressed.close()]);
      await deleteRedisPrefix(settings.prefix);
    }
  });

  /** Two instances of a farm on one prefix. */
  async function farm(leaseMs?: number) {
    const settings = testRedisSettings();
    const a = new RedisQueue(settings, limits, { leaseMs });
    const b = new RedisQueue(settings, limits, { leaseMs });
    await Promise.all([a.waitReady(), b.waitReady()]);
    const cleanup = async () => {
      await Promise.all([a.close(), b.close()]);
      await deleteRedisPrefix(settings.prefix);
    };
    return { a, b, settings, cleanup };
  }

  test("two instances on one prefix never take the same item", async () => {
    const { a, b, settings, cleanup } = await farm();
    try {
      await Promise.all(Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).push(newItem(1 + (i % 5), `e${i}`))));
      const seen = new Map<string, string>();
      for (;;) {
        const [fromA, fromB] = await Promise.all([a.take(7), b.take(7)]);
        if (fromA.length + fromB.length === 0) break;
        for (const item of [...fromA, ...fromB]) {
          expect(seen.has(item.id)).toBe(false);
          seen.set(item.id, text(item.body));
        }
        await Promise.all([...fromA.map((i) => a.ack(i)), ...fromB.map((i) => b.ack(i))]);
      }
      expect(seen.size).toBe(300);
      expect(new Set(seen.values()).size).toBe(300);
      expect((await a.stats()).items).toBe(0);
      expect(await countRedisKeys(settings.prefix)).toBeGreaterThan(0);
    } finally {
      await cleanup();
    }
  });

  test("bounds are farm-wide: exact within an instance, and across instances as of each one's last take or stats", async () => {
    const settings = testRedisSettings();
    const small = { ...limits, maxItems: 3 };
    const a = new RedisQueue(settings, small);
    const b = new RedisQueue(settings, small);
    try {
      await Promise.all([a.waitReady(), b.waitReady()]);
      await a.push(newItem(1, "1"));
      await a.push(newItem(2, "2"));
      await a.push(newItem(3, "3"));
      // a has seen every push: exact.
      await expect(a.push(newItem(4, "4"))).rejects.toMatchObject({ name: "QueueFullError", reason: "items" });
      // b has heard of nothing yet; a take (which refreshes every project's totals) tells it.
      expect(b.approxItems).toBe(0);
      expect(await b.take(0)).toEqual([]);
      expect(b.approxItems).toBe(3);
      await expect(b.push(newItem(4, "4"))).rejects.toMatchObject({ name: "QueueFullError", reason: "items" });
      expect((await b.stats()).items).toBe(3);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await deleteRedisPrefix(settings.prefix);
    }
  });

  test("an item whose holder died comes back to another instance once its lease expires", async () => {
    const { a, b, cleanup } = await farm(300);
    try {
      await a.push(newItem(4, "orphan"));
      const [held] = await a.take(1);
      expect(held).toBeDefined();
      await a.close(); // the holder dies without ack or release
      expect(await b.take(1)).toEqual([]);
      await sleep(450);
      const [again] = await b.take(1);
      expect(again?.id).toBe(held!.id);
      expect(text(again!.body)).toBe("orphan");
      await b.ack(again!);
      expect((await b.stats()).items).toBe(0);
    } finally {
      await cleanup();
    }
  });

  test("a holder whose lease expired cannot release the item a second time", async () => {
    const { a, b, cleanup } = await farm(200);
    try {
      await a.push(newItem(5, "x"));
      const [stale] = await a.take(1);
      await sleep(300);
      const [fresh] = await b.take(1); // re-queued by the expiry, now held by b
      expect(fresh?.id).toBe(stale!.id);
      await a.release(stale!, true); // late: must not queue a duplicate
      expect(await a.take(5)).toEqual([]);
      await b.release(fresh!, true);
      const [retry] = await a.take(5);
      expect(retry?.attempts).toBe(1);
      expect(await b.take(5)).toEqual([]);
    } finally {
      await cleanup();
    }
  });

  test("an ack of an item re-queued after lease expiry deletes it for good", async () => {
    const { a, b, cleanup } = await farm(200);
    try {
      await a.push(newItem(6, "late ack"));
      const [held] = await a.take(1);
      await sleep(300);
      await b.push(newItem(6, "other"));
      await a.ack(held!); // Sentry got it after all
      const rest = await b.take(10); // the expiry re-queues the acked id; take drops it
      expect(rest.map((i) => text(i.body))).toEqual(["other"]);
      expect((await b.stats()).items).toBe(1);
    } finally {
      await cleanup();
    }
  });

  describe("pushCounted: the flood cut and the push in one script", () => {
    const flood = (key: string, maxUses = 2) => ({ key, windowSeconds: 60, maxUses });

    test("queues while the count is within maxUses, then only counts", async () => {
      const { a, cleanup } = await farm();
      try {
        expect(await a.pushCounted(newItem(1, "first"), flood("k"))).toBe(1);
        expect(await a.pushCounted(newItem(1, "second"), flood("k"))).toBe(2);
        expect(await a.pushCounted(newItem(1, "third"), flood("k"))).toBe(3);
        expect(await a.pushCounted(newItem(1, "other"), flood("other key"))).toBe(1);
        const stats = await a.stats();
        expect(stats.items).toBe(3);
        expect(stats.bytes).toBe("first".length + "second".length + "other".length);
        expect(stats.perProject.get(1)).toEqual({ items: 3, bytes: 16 });
        expect(a.approxItems).toBe(3);
        const bodies = (await a.take(10)).map((i) => text(i.body)).sort();
        expect(bodies).toEqual(["first", "other", "second"]);
      } finally {
        await cleanup();
      }
    });

    test("counts farm-wide, in the project's slot", async () => {
      const { a, b, settings, cleanup } = await farm();
      const raw = new Redis({ host: SERVICE_HOST, port: SERVICE_PORTS.redis });
      try {
        expect(await a.pushCounted(newItem(1, "x"), flood("shared", 3))).toBe(1);
        expect(await b.pushCounted(newItem(1, "y"), flood("shared", 3))).toBe(2);
        expect(await a.pushCounted(newItem(1, "z"), flood("shared", 2))).toBe(3);
        expect(await raw.get(counterKey(settings.prefix, "shared", 1))).toBe("3");
        expect((await a.stats()).items).toBe(2);
      } finally {
        raw.disconnect();
        await cleanup();
      }
    });

    test("the counter carries the window as its expiry", async () => {
      const { a, settings, cleanup } = await farm();
      const raw = new Redis({ host: SERVICE_HOST, port: SERVICE_PORTS.redis });
      try {
        await a.pushCounted(newItem(1, "x"), { key: "ttl", windowSeconds: 30, maxUses: 5 });
        const ttl = await raw.pttl(counterKey(settings.prefix, "ttl", 1));
        expect(ttl).toBeGreaterThan(25_000);
        expect(ttl).toBeLessThanOrEqual(30_000);
      } finally {
        raw.disconnect();
        await cleanup();
      }
    });

    test("a full queue refuses with QueueFullError and writes no item", async () => {
      const settings = testRedisSettings();
      const q = new RedisQueue(settings, { ...limits, maxItems: 1 });
      try {
        await q.waitReady();
        expect(await q.pushCounted(newItem(1, "kept"), flood("a"))).toBe(1);
        await expect(q.pushCounted(newItem(1, "refused"), flood("b"))).rejects.toMatchObject({ name: "QueueFullError", reason: "items" });
        const stats = await q.stats();
        expect(stats.items).toBe(1);
        expect(stats.bytes).toBe(4);
      } finally {
        await q.close();
        await deleteRedisPrefix(settings.prefix);
      }
    });
  });

  describe("pushCounted in batches: reports of one turn go to Redis in one script run", () => {
    const flood = (key: string, maxUses = 2) => ({ key, windowSeconds: 60, maxUses });

    test("reports of one turn answer as if run one by one, in order, floods included", async () => {
      const { a, cleanup } = await farm();
      try {
        const answers = await Promise.all([
          a.pushCounted(newItem(1, "k1"), flood("k")),
          a.pushCounted(newItem(2, "other"), flood("other")),
          a.pushCounted(newItem(1, "k2"), flood("k")),
          a.pushCounted(newItem(1, "k3, flood"), flood("k")),
          a.pushCounted(newItem(2, "other2"), flood("other")),
        ]);
        expect(answers).toEqual([1, 1, 2, 3, 2]);
        const stats = await a.stats();
        expect(stats.items).toBe(4);
        expect(stats.bytes).toBe("k1".length + "other".length + "k2".length + "other2".length);
        expect(stats.perProject.get(1)).toEqual({ items: 2, bytes: 4 });
        expect(stats.perProject.get(2)).toEqual({ items: 2, bytes: 11 });
        expect(a.approxItems).toBe(4);
        // Newest first within a project, and both projects are in the round-robin ring.
        const taken = (await a.take(10)).map((i) => `${i.projectId}:${text(i.body)}`);
        expect(taken.sort()).toEqual(["1:k1", "1:k2", "2:other", "2:other2"]);
      } finally {
        await cleanup();
      }
    });

    test("a bound reached inside a batch refuses only the reports past it", async () => {
      const settings = testRedisSettings();
      const q = new RedisQueue(settings, { ...limits, maxItems: 10, maxBytes: 10 });
      try {
        await q.waitReady();
        const results = await Promise.allSettled([
          q.pushCounted(newItem(1, "123456"), flood("a")),
          q.pushCounted(newItem(1, "12345"), flood("b")), // 11 bytes: over
          q.pushCounted(newItem(1, "1234"), flood("c")), // 10 bytes: fits
          q.pushCounted(newItem(1, "1"), flood("d")), // 11 bytes: over
        ]);
        expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "rejected"]);
        expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ name: "QueueFullError", reason: "bytes" });
        const stats = await q.stats();
        expect(stats).toMatchObject({ items: 2, bytes: 10 });
        expect((await q.take(10)).map((i) => text(i.body)).sort()).toEqual(["1234", "123456"]);
      } finally {
        await q.close();
        await deleteRedisPrefix(settings.prefix);
      }
    });

    test("more reports in one turn than a batch holds are all queued, none twice", async () => {
      const { a, cleanup } = await farm();
      try {
        const n = 600; // over MAX_BATCH (256): three script runs
        const counts = await Promise.all(Array.from({ length: n }, (_, i) => a.pushCounted(newItem(1 + (i % 3), `r${i}`), flood(`key${i}`))));
        expect(counts.every((c) => c === 1)).toBe(true);
        expect((await a.stats()).items).toBe(n);
        const bodies = new Set<string>();
        for (let batch = await a.take(100); batch.length > 0; batch = await a.take(100)) for (const item of batch) bodies.add(text(item.body));
        expect(bodies.size).toBe(n);
      } finally {
        await cleanup();
      }
    });

    test("every report of a batch comes back intact: long metadata, large bodies, long project ids", async () => {
      const { a, cleanup } = await farm();
      try {
        const big = "b".repeat(100_000);
        const items = [
          { ...newItem(1, "short"), clientIp: "203.0.113.7, ".repeat(400) }, // a 5 KB X-Forwarded-For: the batch outgrows its first buffer
          newItem(123_456_789_012_345, big),
          newItem(7, ""),
          newItem(2, "ünïcödé ✓"),
        ];
        const counts = await Promise.all(items.map((item, i) => a.pushCounted(item, flood(`intact${i}`))));
        expect(counts).toEqual([1, 1, 1, 1]);
        const taken = new Map<string, (typeof items)[number]>();
        for (let batch = await a.take(10); batch.length > 0; batch = await a.take(10)) for (const t of batch) taken.set(text(t.body), t);
        for (const item of items) {
          const back = taken.get(text(item.body))!;
          expect(back.projectId).toBe(item.projectId);
          expect(back.clientIp).toBe(item.clientIp);
          expect(back.eventId).toBe(item.eventId);
        }
        expect((await a.stats()).perProject.get(123_456_789_012_345)).toEqual({ items: 1, bytes: 100_000 });
      } finally {
        await cleanup();
      }
    });

    test("reports with another window or MAX_CACHE_USES in the same turn are counted by their own", async () => {
      const { a, cleanup } = await farm();
      try {
        const answers = await Promise.all([
          a.pushCounted(newItem(1, "a1"), flood("w", 1)),
          a.pushCounted(newItem(1, "a2"), flood("w", 1)), // count 2 > 1: a flood
          a.pushCounted(newItem(1, "b1"), flood("w", 5)), // count 3 <= 5: queued
          a.pushCounted(newItem(1, "c1"), { key: "w2", windowSeconds: 0.2, maxUses: 1 }),
        ]);
        expect(answers).toEqual([1, 2, 3, 1]);
        expect((await a.take(10)).map((i) => text(i.body)).sort()).toEqual(["a1", "b1", "c1"]);
        await sleep(400); // w2's 200 ms window ended: a new one starts
        expect(await a.pushCounted(newItem(1, "c2"), { key: "w2", windowSeconds: 0.2, maxUses: 1 })).toBe(1);
      } finally {
        await cleanup();
      }
    });

    test("a batch that cannot be encoded rejects its reports instead of throwing out of the event loop", async () => {
      const { a, cleanup } = await farm();
      try {
        const broken = { ...newItem(1, "x"), body: null } as unknown as ReturnType<typeof newItem>;
        const results = await Promise.allSettled([a.pushCounted(newItem(1, "fine"), flood("f")), a.pushCounted(broken, flood("g"))]);
        expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
        expect((await a.stats()).items).toBe(0);
        // The queue still works for the next turn.
        expect(await a.pushCounted(newItem(1, "later"), flood("h"))).toBe(1);
      } finally {
        await cleanup();
      }
    });

    test("a batch still pending when the queue closes is sent, not dropped", async () => {
      const settings = testRedisSettings();
      const q = new RedisQueue(settings, limits);
      const reader = new RedisQueue(settings, limits);
      try {
        await Promise.all([q.waitReady(), reader.waitReady()]);
        const pending = q.pushCounted(newItem(1, "last words"), flood("z"));
        await q.close();
        expect(await pending).toBe(1);
        expect((await reader.take(1)).map((i) => text(i.body))).toEqual(["last words"]);
      } finally {
        await reader.close();
        await deleteRedisPrefix(settings.prefix);
      }
    });
  });

  test("cleanup leaves no key behind", async () => {
    const { a, settings, cleanup } = await farm();
    try {
      await a.push(newItem(1, "x"));
      await a.take(1);
    } finally {
      await cleanup();
    }
    expect(await countRedisKeys(settings.prefix)).toBe(0);
  });
});

// The 3 s test timeout is the "fails fast, does not hang" check: nothing waits for a reconnect.
test("with Redis down, push fails fast with StorageUnavailableError and problem() says why", async () => {
  const queue = new RedisQueue({ host: "127.0.0.1", port: 1, db: 0, password: null, prefix: "unused", cluster: [] }, limits);
  try {
    await sleep(100); // let the first connection attempt fail
    let error: unknown;
    try {
      await queue.push(newItem(1, "x"));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(queue.problem()).toContain("127.0.0.1:1");
    await expect(queue.take(1)).rejects.toBeInstanceOf(StorageUnavailableError);
  } finally {
    await queue.close();
  }
}, 3000);

await describeWith("redis", "RedisQueue upgrade from the one-tag layout", () => {
  test("items an earlier cyclops queued under {prefix}:queue:* move to the per-project layout at start, and the old keys go", async () => {
    const settings = testRedisSettings();
    const raw = new Redis({ host: SERVICE_HOST, port: SERVICE_PORTS.redis });
    const base = `{${settings.prefix}}:queue`;
    const old = [newItem(1, "old one"), newItem(1, "old two"), newItem(2, "old three", { endpoint: "envelope" })];
    const queue = new RedisQueue(settings, limits);
    try {
      await raw.hset(`${base}:items`, "1", Buffer.from(encodeItem(old[0]!)), "2", Buffer.from(encodeItem(old[1]!)), "3", Buffer.from(encodeItem(old[2]!, undefined, true)));
      await raw.hset(`${base}:stats`, "items", 3, "bytes", 24, "1:items", 2, "1:bytes", 15, "2:items", 1, "2:bytes", 9);
      await raw.rpush(`${base}:ring`, "1", "2");
      await raw.rpush(`${base}:project:1`, "1", "2");
      await raw.rpush(`${base}:project:2`, "3");
      await raw.set(`${base}:seq`, "3");
      await queue.waitReady();
      expect(await queue.legacyMigration).toBe(3);
      const taken = await queue.take(10);
      expect(taken.map((i) => `${i.projectId} ${i.endpoint} ${text(i.body)}`).sort()).toEqual(["1 store old one", "1 store old two", "2 envelope old three"]);
      expect(await raw.exists(...["items", "stats", "ring", "seq", "project:1", "project:2", "migrating"].map((k) => `${base}:${k}`))).toBe(0);
    } finally {
      raw.disconnect();
      await queue.close();
      await deleteRedisPrefix(settings.prefix);
    }
  });
});

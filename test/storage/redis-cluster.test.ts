/**
 * The Redis queue on a Redis Cluster (.ci/services.sh's 3 masters + 3 replicas on 7000-7005): the
 * queue contract as on one Redis, and the proof that no script can meet CROSSSLOT.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateMulti } from "cluster-key-slot";
import { Cluster } from "ioredis";
import type { QueueLimits } from "../../src/storage/queue.ts";
import { RedisQueue } from "../../src/storage/redis.ts";
import { Script, SCRIPTS } from "../../src/redis/scripts.ts";
import { RedisCounterStore } from "../../src/throttle/redis.ts";
import { CLUSTER_SEEDS, describeWith } from "../helpers/services.ts";
import { newItem, runQueueContract } from "../contracts/queue.contract.ts";
import { deleteRedisPrefix, onFreshPrefix, testRedisSettings } from "./redis-cleanup.ts";

const limits: QueueLimits = { maxItems: 10_000, maxBytes: 10_000_000, newestFirst: true };

await describeWith("redis-cluster", "RedisQueue on Redis Cluster", () => {
  for (const [name, options] of [
    ["redis cluster", {}],
    ["redis cluster, zstd bodies", { compress: true }],
  ] as const) {
    runQueueContract(name, async (l) => {
      const { made: queue, cleanup } = await onFreshPrefix((settings) => new RedisQueue(settings, l, options), "cluster");
      return { queue, cleanup };
    });
  }

  describe("every script's keys hash to one slot", () => {
    const calls: { script: string; keys: string[] }[] = [];
    const original = { run: Script.prototype.run, runBuffer: Script.prototype.runBuffer };
    beforeAll(() => {
      for (const method of ["run", "runBuffer"] as const) {
        Script.prototype[method] = function (this: Script, client, keys, args) {
          calls.push({ script: this.name, keys: [...keys] });
          return original[method].call(this, client, keys, args);
        };
      }
    });
    afterAll(() => Object.assign(Script.prototype, original));

    test("push, pushCounted over several projects, take, release, ack and the counters' incr", async () => {
      const settings = testRedisSettings(undefined, "cluster");
      const queue = new RedisQueue(settings, limits);
      const counters = new RedisCounterStore(settings);
      const slots = new Set<number>();
      try {
        await Promise.all([queue.waitReady(), counters.waitReady()]);
        for (let p = 1; p <= 12; p++) await queue.push(newItem(p, `plain ${p}`));
        const flood = (key: string) => ({ key, windowSeconds: 60, maxUses: 3 });
        await Promise.all(Array.from({ length: 40 }, (_, i) => queue.pushCounted(newItem(1 + (i % 12), `counted ${i}`), flood(`k${i % 5}`))));
        const taken = await queue.take(30);
        expect(taken.length).toBe(30);
        await queue.release(taken[0]!, true);
        await Promise.all(taken.slice(1).map((i) => queue.ack(i)));
        await counters.increment("alone", 60);

        expect(new Set(calls.map((c) => c.script))).toEqual(new Set(Object.values(SCRIPTS).map((s) => s.name)));
        for (const { script, keys } of calls) {
          const slot = generateMulti(keys);
          expect({ script, keys, slot }).not.toMatchObject({ slot: -1 });
          slots.add(slot);
        }
        // The projects spread over the cluster rather than sharing one slot.
        expect(slots.size).toBeGreaterThan(6);
      } finally {
        await Promise.all([queue.close(), counters.close()]);
        await deleteRedisPrefix(settings.prefix, "cluster");
      }
    });
  });

  test("the projects' keys spread over every master", async () => {
    const settings = testRedisSettings(undefined, "cluster");
    const queue = new RedisQueue(settings, limits);
    const raw = new Cluster(CLUSTER_SEEDS);
    try {
      await queue.waitReady();
      for (let p = 1; p <= 30; p++) await queue.push(newItem(p, `p${p}`));
      const perMaster = await Promise.all(raw.nodes("master").map(async (n) => (await n.keys(`{${settings.prefix}:*}:*`)).length));
      expect(perMaster.length).toBe(3);
      for (const n of perMaster) expect(n).toBeGreaterThan(0);
      expect((await queue.stats()).items).toBe(30);
    } finally {
      raw.disconnect();
      await queue.close();
      await deleteRedisPrefix(settings.prefix, "cluster");
    }
  });
});

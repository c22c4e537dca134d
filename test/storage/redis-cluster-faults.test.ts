/**
 * What a cluster does to the Redis queue, each case on a real cluster: scripts flushed (NOSCRIPT),
 * a slot moved under load (ASK, TRYAGAIN, then MOVED), the cluster in fail state (CLUSTERDOWN,
 * then recovery without a restart), a seed node down at start, and REDIS_WAIT_REPLICAS (WAIT).
 * The destructive cases run on a private cluster (test/helpers/redis-cluster.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import calculateSlot from "cluster-key-slot";
import { Cluster, Redis } from "ioredis";
import { StorageUnavailableError, type QueueLimits } from "../../src/storage/queue.ts";
import { RedisQueue } from "../../src/storage/redis.ts";
import { projectKeys } from "../../src/redis/keys.ts";
import { SCRIPTS } from "../../src/redis/scripts.ts";
import { CLUSTER_SEEDS, describeWith, uniqueName } from "../helpers/services.ts";
import { startPrivateCluster } from "../helpers/redis-cluster.ts";
import { newItem } from "../contracts/queue.contract.ts";
import { deleteRedisPrefix, testRedisSettings } from "./redis-cleanup.ts";
import { freePort } from "../e2e/helpers.ts";

const limits: QueueLimits = { maxItems: 100_000, maxBytes: 100_000_000, newestFirst: false };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** The cluster errors ioredis handled (MOVED, ASK, TRYAGAIN, CLUSTERDOWN), seen through its handler. */
function recordRedirections(): { seen: Set<string>; restore(): void } {
  const proto = Cluster.prototype as unknown as { handleError(error: Error, ...rest: unknown[]): unknown };
  const original = proto.handleError;
  const seen = new Set<string>();
  proto.handleError = function (this: unknown, error: Error, ...rest: unknown[]) {
    seen.add(error.message.split(" ")[0]!);
    return original.call(this, error, ...rest);
  };
  return { seen, restore: () => void (proto.handleError = original) };
}

/** Every item of the queue, taken and acked: their bodies. */
async function drain(q: RedisQueue): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const items = await q.take(500);
    if (items.length === 0) return bodies;
    for (const i of items) bodies.push(text(i.body));
    await Promise.all(items.map((i) => q.ack(i)));
  }
}

await describeWith("redis-cluster", "RedisQueue on a cluster under faults", () => {
  test("NOSCRIPT: scripts flushed from every master are loaded again by the next call", async () => {
    const settings = testRedisSettings(undefined, "cluster");
    const q = new RedisQueue(settings, limits);
    const raw = new Cluster(CLUSTER_SEEDS);
    try {
      await q.waitReady();
      await q.push(newItem(1, "before"));
      const sha = (await raw.nodes("master")[0]!.script("LOAD", SCRIPTS.push.lua)) as string;
      await Promise.all(raw.nodes("master").map((n) => n.script("FLUSH")));
      const master = raw.nodes("master").find((n) => raw.slots[calculateSlot(projectKeys(settings.prefix, 1).stats)]![0] === `${n.options.host}:${n.options.port}`)!;
      expect(await master.script("EXISTS", sha)).toEqual([0]);
      await q.push(newItem(1, "after"));
      expect(await master.script("EXISTS", sha)).toEqual([1]);
      expect((await drain(q)).sort()).toEqual(["after", "before"]);
    } finally {
      raw.disconnect();
      await q.close();
      await deleteRedisPrefix(settings.prefix, "cluster");
    }
  });

  test("a seed node down at start: the others suffice", async () => {
    const settings = { ...testRedisSettings(undefined, "cluster"), cluster: [{ host: "127.0.0.1", port: freePort() }, ...CLUSTER_SEEDS] };
    const q = new RedisQueue(settings, limits);
    try {
      await q.waitReady();
      await q.push(newItem(3, "one seed was down"));
      expect(await drain(q)).toEqual(["one seed was down"]);
    } finally {
      await q.close();
      await deleteRedisPrefix(settings.prefix, "cluster");
    }
  });

  describe("REDIS_WAIT_REPLICAS", () => {
    const waits = async (raw: Cluster) => {
      const stats = await Promise.all(raw.nodes("master").map((n) => n.info("commandstats")));
      return stats.reduce((sum, s) => sum + Number(/cmdstat_wait:calls=(\d+)/.exec(s)?.[1] ?? 0), 0);
    };

    test("1 on the cluster: a turn's reports of ten projects wait once per master, and every one is kept", async () => {
      const settings = testRedisSettings(undefined, "cluster");
      const q = new RedisQueue(settings, limits, { waitReplicas: 1 });
      const raw = new Cluster(CLUSTER_SEEDS);
      try {
        await q.waitReady();
        await raw.nodes("master")[0]!.ping();
        const before = await waits(raw);
        const flood = { key: "k", windowSeconds: 60, maxUses: 100 };
        await Promise.all(Array.from({ length: 50 }, (_, i) => q.pushCounted(newItem(1 + (i % 10), `r${i}`), flood)));
        const after = await waits(raw);
        expect(after - before).toBeGreaterThanOrEqual(1);
        expect(after - before).toBeLessThanOrEqual(3);
        expect((await drain(q)).length).toBe(50);
      } finally {
        raw.disconnect();
        await q.close();
        await deleteRedisPrefix(settings.prefix, "cluster");
      }
    });

    test("more replicas than a master has: the push fails (the client retries) instead of promising too much", async () => {
      const settings = testRedisSettings(undefined, "cluster");
      const q = new RedisQueue(settings, limits, { waitReplicas: 2, waitTimeoutMs: 200 });
      try {
        await q.waitReady();
        const error = await q.push(newItem(1, "x")).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StorageUnavailableError);
        expect(String(error)).toContain("1 of 2 replicas");
      } finally {
        await q.close();
        await deleteRedisPrefix(settings.prefix, "cluster");
      }
    });
  });

  describe("on a private cluster", () => {
    let cluster: Awaited<ReturnType<typeof startPrivateCluster>>;
    beforeAll(async () => {
      cluster = await startPrivateCluster(3, 0);
    }, 30_000);
    afterAll(() => cluster?.stop());
    const settingsOn = () => ({ ...testRedisSettings(uniqueName("cyclops_faults"), "cluster"), cluster: cluster.seeds });

    test("a slot moved under load (ASK, TRYAGAIN, then MOVED): every acknowledged push is kept once", async () => {
      const settings = settingsOn();
      const q = new RedisQueue(settings, limits);
      const redirections = recordRedirections();
      const slot = calculateSlot(projectKeys(settings.prefix, 7).stats);
      const from = await cluster.masterOf(slot);
      const to = cluster.nodes.map((n) => n.port).find((p) => p !== from)!;
      const src = cluster.node(from);
      const dst = cluster.node(to);
      const acked: string[] = [];
      const refused: unknown[] = [];
      let sending = true;
      try {
        await Promise.all([q.waitReady(), src.connect(), dst.connect()]);
        let n = 0;
        const sender = async () => {
          while (sending) {
            const body = `m${n++}`;
            const push = n % 2 ? q.push(newItem(7, body)) : q.pushCounted(newItem(7, body), { key: `k${n % 3}`, windowSeconds: 60, maxUses: 1e6 });
            await push.then(
              () => acked.push(body),
              (e: unknown) => refused.push(e),
            );
          }
        };
        const senders = Array.from({ length: 8 }, sender);
        await Bun.sleep(200);
        const [fromId, toId] = [(await src.cluster("MYID")) as string, (await dst.cluster("MYID")) as string];
        await dst.cluster("SETSLOT", slot, "IMPORTING", fromId);
        await src.cluster("SETSLOT", slot, "MIGRATING", toId);
        for (;;) {
          const keys = (await src.cluster("GETKEYSINSLOT", slot, 1)) as string[];
          if (keys.length === 0) break;
          await src.migrate("127.0.0.1", to, "", 0, 5000, "KEYS", ...keys);
          await Bun.sleep(40);
        }
        await Bun.sleep(300); // every key moved, the slot not yet: ASK
        for (const { port } of cluster.nodes) {
          const c = cluster.node(port);
          await c.connect();
          await c.cluster("SETSLOT", slot, "NODE", toId);
          c.disconnect();
        }
        await Bun.sleep(300); // the client still sends to the old master: MOVED
        sending = false;
        await Promise.all(senders);
        expect(refused.filter((e) => !(e instanceof StorageUnavailableError))).toEqual([]);
        expect(acked.length).toBeGreaterThan(50);
        expect([...redirections.seen].filter((e) => ["ASK", "TRYAGAIN", "MOVED"].includes(e)).sort()).toEqual(["ASK", "MOVED", "TRYAGAIN"]);
        expect(await cluster.masterOf(slot)).toBe(to);
        const kept = await drain(q);
        expect(kept.length).toBe(acked.length);
        expect(new Set(kept)).toEqual(new Set(acked));
      } finally {
        sending = false;
        redirections.restore();
        src.disconnect();
        dst.disconnect();
        await q.close();
      }
    }, 30_000);

    test("the cluster in fail state: pushes fail fast as unavailable (CLUSTERDOWN), and work again once it is ok, without a restart", async () => {
      const settings = settingsOn();
      const q = new RedisQueue(settings, limits);
      const redirections = recordRedirections();
      // A master of no slot of project 1: stopping it fails the cluster, but not where project 1 lives.
      const home = await cluster.masterOf(calculateSlot(projectKeys(settings.prefix, 1).stats));
      const victim = cluster.nodes.find((n) => n.port !== home)!;
      const others = cluster.nodes.filter((n) => n !== victim).map((n) => n.port);
      try {
        await q.waitReady();
        await q.push(newItem(1, "before"));
        victim.proc.kill("SIGSTOP");
        await cluster.waitState("fail", others);
        const started = performance.now();
        const error = await q.push(newItem(1, "during")).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StorageUnavailableError);
        expect(redirections.seen.has("CLUSTERDOWN")).toBe(true);
        console.log(`[cluster fail state] push refused after ${Math.round(performance.now() - started)} ms: ${String(error)}`);
        victim.proc.kill("SIGCONT");
        await cluster.waitState("ok");
        let after: unknown = null;
        for (let i = 0; i < 50; i++) {
          after = await q.push(newItem(1, "after")).then(
            () => "ok",
            (e: unknown) => e,
          );
          if (after === "ok") break;
          await Bun.sleep(100);
        }
        expect(after).toBe("ok");
        expect((await drain(q)).sort()).toEqual(["after", "before"]);
      } finally {
        victim.proc.kill("SIGCONT");
        redirections.restore();
        await q.close();
      }
    }, 60_000);
  });
});

test("REDIS_WAIT_REPLICAS on a Redis without replicas: the push fails as unavailable within the wait", async () => {
  const settings = testRedisSettings();
  const q = new RedisQueue(settings, limits, { waitReplicas: 1, waitTimeoutMs: 100 });
  const raw = new Redis({ host: settings.host, port: settings.port, lazyConnect: true });
  try {
    await raw.connect();
    if (Number(/connected_slaves:(\d+)/.exec(await raw.info("replication"))?.[1] ?? 0) > 0) return; // a Redis with replicas proves nothing here
    await q.waitReady();
    const error = await q.push(newItem(1, "x")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(String(error)).toContain("0 of 1 replicas");
  } finally {
    raw.disconnect();
    await q.close();
    await deleteRedisPrefix(settings.prefix);
  }
});

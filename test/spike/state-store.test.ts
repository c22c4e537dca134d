/**
 * The learned limits survive a restart, kept with the storage: in the SQLite spool (through the
 * queue's own connection), in Redis (one key per project, single Redis and Redis Cluster: a farm
 * restarting keeps one baseline per project), or in a JSON file (SPIKE_STATE_PATH, or systemd's
 * state directory). A broken state costs the learned limits, never the start.
 */
import { afterAll, describe, expect, test } from "bun:test";
import calculateSlot from "cluster-key-slot";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaults } from "../../src/config/schema.ts";
import { silentLogger } from "../../src/log.ts";
import { RedisConnection } from "../../src/redis/connection.ts";
import { projectKeys, spikeStateKey } from "../../src/redis/keys.ts";
import { SpikeProtection } from "../../src/spike/service.ts";
import { defaultStatePath, FileStateStore, RedisStateStore, SpoolStateStore, stateStoreFor, type SpikeStateStore } from "../../src/spike/state-store.ts";
import { MemoryQueue } from "../../src/storage/memory.ts";
import { SqliteQueue } from "../../src/storage/sqlite.ts";
import { describeWith, uniqueName } from "../helpers/services.ts";
import { deleteRedisPrefix, testRedisSettings, type Topology } from "../storage/redis-cleanup.ts";
import { MINUTE, MONDAY } from "./replay.ts";

const dir = mkdtempSync(join(tmpdir(), "cyclops-spike-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const limits = { maxItems: 1000, maxBytes: 1 << 20, newestFirst: true };
const config = { ...defaults(), SPIKE_PROTECTION: "enforce" as const };
const where = (path: string | null) => ({ SPIKE_STATE_PATH: path, REDIS_KEY_PREFIX: "cyclops" });

/** Two hours of `perMinute` reports of `projects`' errors, from MONDAY. */
function learn(spike: SpikeProtection, projects: number[], perMinute = 300): void {
  const step = MINUTE / perMinute;
  for (let i = 0; i < perMinute * 120; i++) for (const p of projects) spike.limiter.check(p, "error", null, MONDAY + Math.floor(i * step));
}

/** A stop and a start of the gateway's spike protection around `open`, which opens the storage anew each time. */
async function keepsLimitAcrossRestart(open: () => { store: SpikeStateStore | null; close(): void | Promise<void> }) {
  const now = { t: MONDAY + 120 * MINUTE };
  const a = open();
  const first = new SpikeProtection(config, { log: silentLogger(), now: () => now.t, store: a.store });
  learn(first, [1]);
  const limit = first.limiter.limitOf(1, "error")!;
  expect(limit).toBeGreaterThan(600);
  await first.stop();
  await a.close();

  const b = open();
  const second = new SpikeProtection(config, { log: silentLogger(), now: () => now.t + MINUTE, store: b.store });
  await second.start();
  expect(second.limiter.limitOf(1, "error")).toBeCloseTo(limit, 5);
  await second.stop();
  await b.close();
}

describe("the learned limit survives a restart", () => {
  test("in a state file (memory storage, SPIKE_STATE_PATH)", async () => {
    const path = join(dir, "sub", "spike.json");
    await keepsLimitAcrossRestart(() => ({ store: stateStoreFor(where(path), new MemoryQueue(limits)), close() {} }));
  });

  test("in the SQLite spool, through the queue's own connection (it holds the file exclusively)", async () => {
    const path = join(dir, "spool.sqlite");
    await keepsLimitAcrossRestart(() => {
      const queue = new SqliteQueue(path, limits);
      return { store: stateStoreFor(where(null), queue), close: () => void queue.close() };
    });
  });
});

for (const topology of ["single", "cluster"] as Topology[]) {
  await describeWith(topology === "single" ? "redis" : "redis-cluster", `spike state in Redis (${topology})`, () => {
    const prefix = uniqueName("cyclops_spike_state");
    const connections: RedisConnection[] = [];
    const connect = () => {
      const c = new RedisConnection(testRedisSettings(prefix, topology));
      connections.push(c);
      return c;
    };
    afterAll(async () => {
      for (const c of connections) c.client.disconnect();
      await deleteRedisPrefix(prefix, topology);
    });

    test("a farm restarting keeps one baseline per project, each in its project's slot", async () => {
      const storeOf = (c: RedisConnection) => stateStoreFor({ SPIKE_STATE_PATH: join(dir, "unused.json"), REDIS_KEY_PREFIX: prefix }, new MemoryQueue(limits), c.client);
      const at = MONDAY + 120 * MINUTE;
      // Two instances of a farm: each saw projects 1 and 2 (the farm learns one baseline); a third saw project 3 too.
      const farm = [0, 1].map(() => new SpikeProtection(config, { log: silentLogger(), now: () => at, store: storeOf(connect()) }));
      expect(storeOf(connections[0]!)).toBeInstanceOf(RedisStateStore);
      learn(farm[0]!, [1, 2]);
      learn(farm[1]!, [1, 2, 3], 600);
      const before = new Map([1, 2, 3].map((p) => [p, farm[1]!.limiter.limitOf(p, "error")!]));
      // The farm's instances learned the same (farm.ts); the last to save wins.
      await farm[0]!.stop();
      await farm[1]!.stop();

      const restarted = new SpikeProtection(config, { log: silentLogger(), now: () => at + MINUTE, store: storeOf(connect()) });
      await restarted.start();
      for (const [p, limit] of before) expect(restarted.limiter.limitOf(p, "error")).toBeCloseTo(limit, 5);
      await restarted.stop();

      // One key per project, under the project's hash tag: on a cluster, each in that project's slot.
      const keys = [1, 2, 3].map((p) => spikeStateKey(prefix, p));
      expect(keys.map((k) => calculateSlot(k))).toEqual([1, 2, 3].map((p) => calculateSlot(projectKeys(prefix, p).queue)));
      const c = connections[0]!.client;
      expect(await c.ttl(keys[0]!)).toBeGreaterThan(86_400);
      expect((await c.smembers(spikeStateKey(prefix))).sort()).toEqual(["1", "2", "3"]);
    }, 60_000);

    test("a malformed project is skipped, the others restored; a project whose key expired leaves the set", async () => {
      const c = connect();
      while (!c.isReady) await Bun.sleep(10);
      const store = new RedisStateStore(c.client, prefix);
      await c.client.sadd(spikeStateKey(prefix), "7", "8", "9");
      await c.client.set(spikeStateKey(prefix, 7), "{not json");
      await c.client.set(
        spikeStateKey(prefix, 8),
        JSON.stringify({
          version: 1,
          savedAt: 5,
          lanes: [{ project: 8, category: "error", baseline: { minutes: 100, fast: 50, slow: 50, variance: 0 }, episode: null }],
        }),
      );
      await c.client.del(spikeStateKey(prefix, 9));
      const spike = new SpikeProtection(config, { log: silentLogger(), now: () => MONDAY, store });
      await spike.start();
      expect(spike.limiter.limitOf(7, "error")).toBeNull();
      expect(spike.limiter.limitOf(8, "error")).toBe(150);
      expect(await c.client.sismember(spikeStateKey(prefix), "9")).toBe(0);
      for (const p of [1, 2, 3]) expect(spike.limiter.limitOf(p, "error")).not.toBeNull(); // the first test's projects
    });
  });
}

test("Redis unreachable at start: reported, limits relearned, the start not held for long", async () => {
  const c = new RedisConnection({ ...testRedisSettings("unreachable"), port: 1 });
  const lines: string[] = [];
  const log = silentLogger();
  log.error = ((_o: unknown, msg: string) => void lines.push(msg)) as typeof log.error;
  const spike = new SpikeProtection(config, { log, store: new RedisStateStore(c.client, "unreachable") });
  const started = performance.now();
  await spike.start();
  expect(lines.join("\n")).toContain("saved state not read");
  spike.limiter.check(1, "error", null, Date.now());
  await spike.stop();
  // Refused at once: neither waits for the 3 s a first connection may take.
  expect(performance.now() - started).toBeLessThan(2500);
  expect(lines.join("\n")).toContain("state not saved");
  c.client.disconnect();
});

test("the store follows the storage: the spool; else the farm's Redis; else SPIKE_STATE_PATH; else systemd's state directory; else nowhere", async () => {
  const memory = new MemoryQueue(limits);
  const noEnv = {};
  expect(stateStoreFor(where(null), memory, null, noEnv)).toBeNull();
  expect(stateStoreFor(where(join(dir, "r.json")), memory, null, noEnv)).toBeInstanceOf(FileStateStore);
  // systemd's StateDirectory= (deploy/cyclops.service) sets $STATE_DIRECTORY: the default file is there.
  expect(defaultStatePath({ STATE_DIRECTORY: "/var/lib/cyclops" })).toBe("/var/lib/cyclops/spike-state.json");
  expect(defaultStatePath({ STATE_DIRECTORY: "/var/lib/a:/var/lib/b" })).toBe("/var/lib/a/spike-state.json");
  expect(stateStoreFor(where(null), memory, null, { STATE_DIRECTORY: dir })?.where).toBe(`file ${join(dir, "spike-state.json")}`);
  expect(stateStoreFor(where(join(dir, "r.json")), memory, null, { STATE_DIRECTORY: dir })?.where).toBe(`file ${join(dir, "r.json")}`);
  const redis = { status: "ready" } as unknown as Parameters<typeof stateStoreFor>[2];
  expect(stateStoreFor(where(join(dir, "r.json")), memory, redis, noEnv)).toBeInstanceOf(RedisStateStore);
  const spool = new SqliteQueue(join(dir, "s.sqlite"), limits);
  expect(stateStoreFor(where(join(dir, "ignored.json")), spool, redis, noEnv)).toBeInstanceOf(SpoolStateStore);
  await spool.close();
});

test("a malformed state file is reported, and the gateway starts with limits relearned", async () => {
  const path = join(dir, "broken.json");
  writeFileSync(path, "{not json");
  const lines: string[] = [];
  const log = silentLogger();
  log.error = ((_o: unknown, msg: string) => void lines.push(msg)) as typeof log.error;
  const spike = new SpikeProtection(config, { log, store: new FileStateStore(path) });
  await spike.start();
  expect(lines.join("\n")).toContain("saved state not read");
  expect(spike.limiter.limitOf(1, "error")).toBeNull();
  await spike.stop(); // and overwrites it with a good one
  expect(await new FileStateStore(path).load()).toMatchObject({ version: 1 });
});

test("a save is written a chunk per turn and reads back as one document, older array profiles included", async () => {
  const path = join(dir, "chunks.json");
  const spike = new SpikeProtection(config, { log: silentLogger(), now: () => MONDAY + 120 * MINUTE, store: new FileStateStore(path) });
  for (let p = 1; p <= 450; p++) spike.limiter.check(p, "error", null, MONDAY);
  // The event loop turns while the save is under way: a timer set at its start fires before it ends.
  let turns = 0;
  const ticker = setInterval(() => turns++, 0);
  await spike.save();
  clearInterval(ticker);
  expect(turns).toBeGreaterThan(0);
  const doc = JSON.parse(readFileSync(path, "utf8")) as { lanes: Array<{ project: number; baseline: { profile: unknown } }> };
  expect(doc.lanes.map((l) => l.project)).toEqual(Array.from({ length: 450 }, (_, i) => i + 1));
  expect(typeof doc.lanes[0]!.baseline.profile).toBe("string");
});

test("the spool keeps a row per chunk and the count last; a one-document state saved before rows is still read", async () => {
  const queue = new SqliteQueue(join(dir, "rows.sqlite"), limits);
  const store = stateStoreFor(where(null), queue)!;
  const spike = new SpikeProtection(config, { log: silentLogger(), now: () => MONDAY, store });
  for (let p = 1; p <= 450; p++) spike.limiter.check(p, "error", null, MONDAY);
  await spike.save();
  expect(JSON.parse(queue.readMeta!("spike_state")!)).toEqual({ version: 1, savedAt: MONDAY, rows: 3 });
  expect((JSON.parse(queue.readMeta!("spike_state:2")!) as unknown[]).length).toBe(50);
  expect(((await store.load()) as { lanes: unknown[] }).lanes.length).toBe(450);

  const old = {
    version: 1,
    savedAt: MONDAY,
    lanes: [{ project: 5, category: "error", baseline: { minutes: 100, fast: 40, slow: 40, variance: 0, profile: Array(168).fill(-1) }, episode: null }],
  };
  queue.writeMeta!("spike_state", JSON.stringify(old));
  const restarted = new SpikeProtection(config, { log: silentLogger(), now: () => MONDAY, store });
  await restarted.start();
  expect(restarted.limiter.limitOf(5, "error")).toBe(120);
  await restarted.stop();
  await queue.close();
});

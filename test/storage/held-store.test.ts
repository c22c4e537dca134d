/**
 * The held reports' stores (src/storage/held/) against their contract, and the SQLite one's
 * refusal on a full disk.
 */
import { describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryHeldStore } from "../../src/storage/held/memory.ts";
import { RedisHeldStore } from "../../src/storage/held/redis.ts";
import { SqliteHeldStore } from "../../src/storage/held/sqlite.ts";
import { RedisConnection } from "../../src/redis/connection.ts";
import { StorageUnavailableError, type QueueLimits } from "../../src/storage/queue.ts";
import { PROBE_INTERVAL_MS } from "../../src/storage/sqlite-space.ts";
import { SqliteQueue } from "../../src/storage/sqlite.ts";
import { describeWith } from "../helpers/services.ts";
import { heldReport, runHeldStoreContract } from "../contracts/held-store.contract.ts";
import { deleteRedisPrefix, testRedisSettings } from "./redis-cleanup.ts";
import { spoolTmpfs } from "./tmpfs.ts";

const limits: QueueLimits = { maxItems: 1000, maxBytes: 10_000_000, newestFirst: false };

runHeldStoreContract("memory", async () => ({ store: new MemoryHeldStore(), cleanup: async () => {} }));

function spoolPath(): string {
  return join(tmpdir(), `cyclops-held-store-${crypto.randomUUID()}.sqlite`);
}
const removeSpool = (path: string) => {
  for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}.reserve`]) rmSync(f, { force: true });
};

runHeldStoreContract("sqlite", async () => {
  const path = spoolPath();
  const queues = [new SqliteQueue(path, limits)];
  return {
    store: new SqliteHeldStore(queues[0]!),
    reopen: async () => {
      await queues[0]!.close(); // the spool's file belongs to one process at a time
      queues.push(new SqliteQueue(path, limits));
      return new SqliteHeldStore(queues.at(-1)!);
    },
    cleanup: async () => {
      for (const q of queues) await q.close();
      removeSpool(path);
    },
  };
});

for (const [service, topology] of [
  ["redis", "single"],
  ["redis-cluster", "cluster"],
] as const) {
  await describeWith(service, `RedisHeldStore (${topology})`, () => {
    runHeldStoreContract(`redis (${topology})`, async () => {
      const settings = testRedisSettings(undefined, topology);
      const connections = [new RedisConnection(settings)];
      await connections[0]!.waitReady(5000);
      return {
        store: new RedisHeldStore(connections[0]!, settings.prefix),
        reopen: async () => {
          const c = new RedisConnection(settings);
          connections.push(c);
          await c.waitReady(5000);
          return new RedisHeldStore(c, settings.prefix);
        },
        cleanup: async () => {
          for (const c of connections) await c.close();
          await deleteRedisPrefix(settings.prefix, topology);
        },
      };
    });
  });
}

test("SqliteHeldStore: a hold resolves only once committed, and is refused while the spool is closed", async () => {
  const path = spoolPath();
  const queue = new SqliteQueue(path, limits);
  try {
    const store = new SqliteHeldStore(queue);
    const held = store.hold(heldReport());
    expect(store.count).toBe(0); // not yet committed
    await held;
    expect(store.count).toBe(1);
    await queue.close();
    await expect(store.hold(heldReport())).rejects.toBeInstanceOf(StorageUnavailableError);
  } finally {
    await queue.close();
    removeSpool(path);
  }
});

describe("SqliteHeldStore on a full disk", () => {
  const tmpfs = spoolTmpfs();

  test("holds are refused while full (never a 200 for what is not stored), removals still go through, holds work again once space returns", async () => {
    const fs = tmpfs();
    if (!fs) return;
    const path = join(fs.dir, "spool.sqlite");
    const queue = new SqliteQueue(path, limits);
    try {
      const store = new SqliteHeldStore(queue);
      const big = () => heldReport({ body: new Uint8Array(16 * 1024).fill(0x61) });
      for (let i = 0; i < 20; i++) await store.hold(big());
      const filler = fs.fill();
      let refused = 0;
      for (let i = 0; i < 50; i++) {
        try {
          await store.hold(big());
        } catch (e) {
          expect(e).toBeInstanceOf(StorageUnavailableError);
          refused++;
        }
      }
      expect(refused).toBeGreaterThan(0);
      const kept = store.count;
      expect((await store.list(1000)).length).toBe(kept);
      // Releasing works on the full disk: the removals are written.
      await store.remove(await store.list(10));
      expect(store.count).toBe(kept - 10);
      rmSync(filler);
      await Bun.sleep(PROBE_INTERVAL_MS + 100);
      await store.hold(big());
      expect(store.count).toBe(kept - 9);
      await queue.close();
      const again = new SqliteHeldStore(new SqliteQueue(path, limits));
      expect(again.count).toBe(kept - 9);
    } finally {
      await queue.close();
    }
  });
});

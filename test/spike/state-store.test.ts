/**
 * The learned limits survive a restart: in a JSON file (memory storage, SPIKE_STATE_PATH) or in
 * the SQLite spool, through the queue's own connection; a broken file costs the learned limits,
 * never the start.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaults } from "../../src/config/schema.ts";
import { silentLogger } from "../../src/log.ts";
import { SpikeProtection } from "../../src/spike/service.ts";
import { FileStateStore, SpoolStateStore, stateStoreFor, type SpikeStateStore } from "../../src/spike/state-store.ts";
import { MemoryQueue } from "../../src/storage/memory.ts";
import { SqliteQueue } from "../../src/storage/sqlite.ts";
import { MINUTE, MONDAY } from "./replay.ts";

const dir = mkdtempSync(join(tmpdir(), "cyclops-spike-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const limits = { maxItems: 1000, maxBytes: 1 << 20, newestFirst: true };
const config = { ...defaults(), SPIKE_PROTECTION: "enforce" as const };

/** A stop and a start of the gateway's spike protection around `open`, which opens the storage anew each time. */
function keepsLimitAcrossRestart(open: () => { store: SpikeStateStore | null; close(): void }) {
  const now = { t: MONDAY };
  const a = open();
  const first = new SpikeProtection(config, { log: silentLogger(), now: () => now.t, store: a.store });
  for (let i = 0; i < 300 * 120; i++) first.limiter.check(1, "error", null, MONDAY + Math.floor(i * 200));
  now.t = MONDAY + 120 * MINUTE;
  const limit = first.limiter.limitOf(1, "error")!;
  expect(limit).toBeGreaterThan(600);
  first.stop();
  a.close();

  const b = open();
  const second = new SpikeProtection(config, { log: silentLogger(), now: () => now.t + MINUTE, store: b.store });
  second.start();
  expect(second.limiter.limitOf(1, "error")).toBeCloseTo(limit, 5);
  second.stop();
  b.close();
}

describe("the learned limit survives a restart", () => {
  test("in a state file (memory storage, SPIKE_STATE_PATH)", () => {
    const path = join(dir, "sub", "spike.json");
    keepsLimitAcrossRestart(() => ({ store: stateStoreFor({ SPIKE_STATE_PATH: path }, new MemoryQueue(limits)), close() {} }));
  });

  test("in the SQLite spool, through the queue's own connection (it holds the file exclusively)", () => {
    const path = join(dir, "spool.sqlite");
    keepsLimitAcrossRestart(() => {
      const queue = new SqliteQueue(path, limits);
      return { store: stateStoreFor({ SPIKE_STATE_PATH: null }, queue), close: () => void queue.close() };
    });
  });
});

test("the store follows the storage: the spool when it can keep it, else SPIKE_STATE_PATH, else nowhere", async () => {
  const memory = new MemoryQueue(limits);
  expect(stateStoreFor({ SPIKE_STATE_PATH: null }, memory)).toBeNull();
  expect(stateStoreFor({ SPIKE_STATE_PATH: join(dir, "r.json") }, memory)).toBeInstanceOf(FileStateStore);
  const spool = new SqliteQueue(join(dir, "s.sqlite"), limits);
  expect(stateStoreFor({ SPIKE_STATE_PATH: join(dir, "ignored.json") }, spool)).toBeInstanceOf(SpoolStateStore);
  await spool.close();
});

test("a malformed state file is reported, and the gateway starts with limits relearned", () => {
  const path = join(dir, "broken.json");
  writeFileSync(path, "{not json");
  const lines: string[] = [];
  const log = silentLogger();
  log.error = ((_o: unknown, msg: string) => void lines.push(msg)) as typeof log.error;
  const spike = new SpikeProtection(config, { log, store: new FileStateStore(path) });
  spike.start();
  expect(lines.join("\n")).toContain("saved state not read");
  expect(spike.limiter.limitOf(1, "error")).toBeNull();
  spike.stop(); // and overwrites it with a good one
  expect(new FileStateStore(path).load()).toMatchObject({ version: 1 });
});

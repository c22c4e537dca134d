/**
 * The cost of saving spike protection's learned state at the lane bound (20,000 lanes: 10,000
 * projects × error and transaction, each with a full hour-of-week profile): the longest the event
 * loop is held during one save, and the whole save's time, for each store. "one document" is how
 * it was saved before (serialize, stringify, one synchronous write), for comparison.
 *
 *   bun bench/spike-save.ts [redis]
 */
import { writeFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { SpikeLimiter } from "../src/spike/limiter.ts";
import { FileStateStore, RedisStateStore, SpoolStateStore, type SpikeStateStore } from "../src/spike/state-store.ts";
import { SqliteQueue } from "../src/storage/sqlite.ts";

const PROJECTS = 10_000;
const CHUNK_LANES = 200; // as src/spike/service.ts saves
const RUNS = 3;

const lanes = [];
for (let p = 1; p <= PROJECTS; p++) {
  for (const category of ["error", "transaction"]) {
    const profile = Array.from({ length: 168 }, () => Math.random() * 500);
    lanes.push({
      project: p,
      category,
      baseline: { minutes: 20_000, fast: 123.4567, slow: 111.1234, variance: 345.6789, hourSum: 1234.5, hourWeight: 30, profile },
      episode: null,
    });
  }
}
const limiter = new SpikeLimiter({ mode: "enforce", floor: 60 });
const restored = limiter.restore({ version: 1, savedAt: 0, lanes }, Date.now());

/** Runs `save` while a setImmediate loop measures the longest gap between its turns. */
async function measure(label: string, save: () => Promise<void> | void): Promise<void> {
  const stalls: number[] = [];
  const totals: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let longest = 0;
    let last = performance.now();
    let running = true;
    const watch = () => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      if (running) setImmediate(watch);
    };
    setImmediate(watch);
    await Bun.sleep(5);
    const started = performance.now();
    last = started;
    await save();
    totals.push(performance.now() - started);
    longest = Math.max(longest, performance.now() - last);
    running = false;
    stalls.push(longest);
    await Bun.sleep(20);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`${label.padEnd(34)} longest stall ${med(stalls).toFixed(1).padStart(7)} ms   whole save ${med(totals).toFixed(0).padStart(6)} ms   (median of ${RUNS})`);
}

const dir = mkdtempSync(join(tmpdir(), "cyclops-spike-save-"));
console.log(`${restored} lanes`);
await measure("one document, synchronous", () => writeFileSync(join(dir, "one.json"), JSON.stringify(limiter.serialize(Date.now()))));
const chunked = (store: SpikeStateStore) => () => store.save(Date.now(), limiter.stateChunks(CHUNK_LANES));
await measure("file, a chunk per turn", chunked(new FileStateStore(join(dir, "state.json"))));
const spool = new SqliteQueue(join(dir, "spool.sqlite"), { maxItems: 10, maxBytes: 1 << 20, newestFirst: true });
await measure("SQLite spool, a chunk per turn", chunked(new SpoolStateStore({ readMeta: (n) => spool.readMeta!(n), writeMeta: (n, v) => spool.writeMeta!(n, v) })));
await spool.close();
if (process.argv.includes("redis")) {
  const redis = new Redis({ host: "127.0.0.1", port: 6379, enableAutoPipelining: true, enableOfflineQueue: false });
  await new Promise((r) => redis.once("ready", r));
  const prefix = `cyclops_bench_spike_${process.pid}`;
  await measure("Redis, a chunk per turn", chunked(new RedisStateStore(redis, prefix)));
  const keys = [`{${prefix}}:spike:projects`, ...Array.from({ length: PROJECTS }, (_, i) => `{${prefix}:${i + 1}}:spike:state`)];
  for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
  redis.disconnect();
}
rmSync(dir, { recursive: true, force: true });

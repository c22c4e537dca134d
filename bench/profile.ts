/**
 * Where cyclops's ingest time goes: runs `bun --cpu-prof src/main.ts serve` (core 0) under the
 * distinct-event store load of the main benchmark (wrk on core 1), stops it so Bun writes the
 * profile, and prints the top functions by self time with their cost per request.
 *
 *   bun bench/profile.ts [--seconds 10] [--conns 128] [--top 30] [--keep] [--redis] [--forward N]
 *   [--baseline bench/baseline.ts] (profile that script instead of cyclops, under the same load)
 *   (--keep: leave the .cpuprofile; --redis: STORAGE and CACHE_IMPLEMENTATION_CLASS redis, on a
 *   redis-server of the bench's own as in the Redis scenario; --forward N: instead of ingest,
 *   the forwarder: N events queued while a fake Sentry on core 1 holds its answers, then drained
 *   with the default pacing, and µs are per delivered event)
 *   [--sustained [--projects N]] (the sustained scenario, bench/lib/sustained.ts: ingest at 16
 *   connections while forwarding to a fake Sentry that answers at once, with N projects each of
 *   its own key; µs are per event the fake received)
 *
 * Self time of a function = samples in which it was the innermost frame. µs/request divides it by
 * every request served while profiling (warm-up round included), so the column adds up to the
 * CPU one request costs, plus start-up and idle time, which are listed apart.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

import { buildPayloads, newSeed } from "./lib/payloads.ts";
import { killAllNow, stopAll } from "./lib/proc.ts";
import { postEvents } from "./lib/client.ts";
import {
  baseConfig,
  benchTempDir,
  closedPort,
  count,
  PUBLIC_KEY,
  startBaseline,
  removeBenchTempDir,
  startCyclops,
  startFakeUpstream,
  startRedis,
  type Server,
} from "./lib/servers.ts";
import { cyclopsConfig, fakeStats } from "./lib/sustained.ts";
import { measureWrk, wrkAvailable, WRK } from "./lib/wrk.ts";

const argv = process.argv.slice(2);
const num = (name: string, def: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const seconds = num("--seconds", 10);
const conns = num("--conns", argv.includes("--sustained") ? 16 : 128);
const top = num("--top", 30);
const keep = argv.includes("--keep");
const redis = argv.includes("--redis");
const forwardEvents = num("--forward", 0);
const sustained = argv.includes("--sustained");
const projects = num("--projects", 1);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

process.on("exit", killAllNow);
process.on("SIGINT", () => void stopAll().then(() => process.exit(130)));

if (!(await wrkAvailable())) {
  console.error(`wrk not found at ${WRK}: install it with \`apt-get install wrk\``);
  process.exit(1);
}
const dir = benchTempDir();
const payloads = buildPayloads(dir, 1);
// The Redis scenario's own redis-server (bench/lib/servers.ts startRedis), on the load core.
const redisServer = redis ? await startRedis() : null;
const fake = forwardEvents > 0 || sustained ? await startFakeUpstream(0, 0) : null;
const profArgs = ["--cpu-prof", `--cpu-prof-dir=${dir}`, "--cpu-prof-name=cyclops.cpuprofile", "--cpu-prof-interval=250"];
const baselineScript = argv.includes("--baseline") ? String(argv[argv.indexOf("--baseline") + 1]) : null;
const server = baselineScript
  ? await startBaseline({}, profArgs, baselineScript)
  : await startCyclops(
      sustained && fake
        ? cyclopsConfig(fake.url, projects)
        : baseConfig({
            SENTRY_BASE_URL: fake?.url ?? `http://127.0.0.1:${closedPort()}`,
            ...(redisServer ? { STORAGE: "redis", CACHE_IMPLEMENTATION_CLASS: "redis", REDIS_PORT: redisServer.port } : {}),
          }),
      { bunArgs: profArgs },
    );
const env = { BENCH_PATH: "/api/1/store/", BENCH_KEY: PUBLIC_KEY, BENCH_TEMPLATE: payloads.eventTemplateFile };
let requests = 0;
try {
  if (sustained && fake) {
    requests = await profileSustained(server, fake);
  } else if (fake) {
    requests = await profileForwarding(server, fake, forwardEvents);
  } else {
    const warm = await measureWrk(server, { script: "store-distinct.lua", conns, seconds: 2, env: { ...env, BENCH_SEED: newSeed() } });
    const m = await measureWrk(server, { script: "store-distinct.lua", conns, seconds, env: { ...env, BENCH_SEED: newSeed() } });
    requests = warm.requests + m.requests;
    console.log(
      `load: ${Math.round(m.rps)} req/s at ${conns} connections (profiler on: slower than the benchmark), ${m.cpuUsPerReq.toFixed(1)} µs CPU/request, non-2xx ${m.non2xx}`,
    );
  }
} finally {
  await server.stop();
  await redisServer?.stop();
  await fake?.stop();
}

/** The sustained load (warm-up round included in the profile); returns the events delivered. */
async function profileSustained(server: Server, fake: Server): Promise<number> {
  const script = projects === 1 ? "store-distinct.lua" : "store-projects.lua";
  const env = { BENCH_PATH: "/api/1/store/", BENCH_KEY: PUBLIC_KEY, BENCH_TEMPLATE: payloads.eventTemplateFile, BENCH_PROJECTS: String(projects) };
  const f0 = await fakeStats(fake);
  const warm = await measureWrk(server, { script, conns, seconds: 2, env: { ...env, BENCH_SEED: newSeed() } });
  const m = await measureWrk(server, { script, conns, seconds, env: { ...env, BENCH_SEED: newSeed() } });
  let left = await count(server);
  for (let i = 0; i < 200 && left.count > 0; i++) {
    await Bun.sleep(50);
    left = await count(server);
  }
  const delivered = (await fakeStats(fake)).count - f0.count;
  const accepted = warm.requests - warm.non2xx + m.requests - m.non2xx;
  console.log(
    `sustained, ${projects} project(s): ${Math.round(m.rps)} accepted/s at ${conns} connections (profiler on), ${accepted} accepted, ${delivered} delivered, ${m.cpuUsPerReq.toFixed(1)} µs CPU/request, non-2xx ${m.non2xx}`,
  );
  return delivered;
}

/** Queues `n` events while the fake holds its answers, releases it, waits until all are delivered. */
async function profileForwarding(server: Server, fake: Server, n: number): Promise<number> {
  await fetch(`${fake.url}/__hold`, { method: "POST" });
  const accepted = await postEvents(server, payloads.eventTemplate, n, 32);
  const before = await count(server);
  const t0 = performance.now();
  await fetch(`${fake.url}/__release`, { method: "POST" });
  let now = before;
  while (now.count > 0 && performance.now() - t0 < 120_000) {
    await Bun.sleep(20);
    now = await count(server);
  }
  const delivered = now.delivered - before.delivered;
  console.log(`forwarding: ${accepted} queued, ${delivered} delivered in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return delivered;
}

const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
if (!file) {
  console.error(`no .cpuprofile written in ${dir}; cyclops stderr: ${server.child.stderrTail().slice(-400)}`);
  process.exit(1);
}
const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const located = (n: ProfileNode) =>
  `${n.callFrame.functionName || "(anonymous)"} (${relative(process.cwd(), n.callFrame.url.replace(/^file:\/\//, ""))}:${n.callFrame.lineNumber + 1})`;
/** Native frames (JSON.parse, TextDecoder, Response…) have no file: name the JS function that called them. */
function caller(node: ProfileNode): string {
  let id = parentOf.get(node.id);
  while (id !== undefined) {
    const p = byId.get(id)!;
    if (p.callFrame.url && !p.callFrame.url.startsWith("internal:") && !p.callFrame.url.includes("node_modules/hono")) return `← ${located(p)}`;
    id = parentOf.get(id);
  }
  return "";
}
const self = new Map<string, number>();
let total = 0;
/**
 * A gap between samples much longer than the interval is the thread descheduled (or a pause the
 * sampler cannot see into), all charged to the one sample before it: one of 688 ms once landed
 * on a function that takes microseconds. They are counted and named below, not dropped (a GC
 * pause is a real cost), so a row they inflate can be recognised.
 */
const LONG_GAP_US = 10_000;
const gaps: number[] = [];
// Under the sustained load, only the samples from the first to the last report ingested count:
// start-up (5,000 keys parsed and checked) is no cost per event.
const underIngest = (id: number): boolean => {
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) if (byId.get(at)!.callFrame.url.includes("src/server/ingest.ts")) return true;
  return false;
};
let first = 0;
let last = profile.samples.length - 1;
if (sustained) {
  while (first < last && !underIngest(profile.samples[first]!)) first++;
  while (last > first && !underIngest(profile.samples[last]!)) last--;
}
for (let i = first; i <= last; i++) {
  // timeDeltas[i] is the time before sample i; attribute the following interval to sample i.
  const us = profile.timeDeltas[i + 1] ?? 0;
  const node = byId.get(profile.samples[i]!);
  if (!node) continue;
  const f = node.callFrame;
  const where = f.url ? `${relative(process.cwd(), f.url.replace(/^file:\/\//, ""))}:${f.lineNumber + 1}` : caller(node);
  const key = `${f.functionName || "(anonymous)"}\t${where}`;
  self.set(key, (self.get(key) ?? 0) + us);
  total += us;
  if (us > LONG_GAP_US) gaps.push(us);
}
const special = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]);
const busy = rows.filter(([k]) => !k.startsWith("(idle)")).reduce((s, [, v]) => s + v, 0);
if (gaps.length > 0) {
  const sum = gaps.reduce((a, b) => a + b, 0);
  console.log(
    `gaps over ${LONG_GAP_US / 1000} ms between samples: ${gaps.length}, ${(sum / 1000).toFixed(0)} ms in all (longest ${(Math.max(...gaps) / 1000).toFixed(0)} ms), each charged to one sample's row`,
  );
}
console.log(`profile: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s not idle, ${requests} requests → ${(busy / requests).toFixed(1)} µs busy per request`);
console.log("");
console.log(`${"self %".padStart(7)} ${"µs/req".padStart(7)}  function  (file:line)`);
let shown = 0;
for (const [key, us] of rows) {
  if (shown >= top) break;
  const [fn, where] = key.split("\t");
  const mark = special.has(fn!) ? "  [runtime]" : "";
  const at = where ? (where.startsWith("←") ? `  ${where}` : `  (${where})`) : "";
  console.log(`${((100 * us) / busy).toFixed(1).padStart(6)}% ${(us / requests).toFixed(2).padStart(7)}  ${fn}${at}${mark}`);
  shown++;
}

// Per file, for a coarser view (Bun internals and node_modules grouped by their path).
const byFile = new Map<string, number>();
for (const [key, us] of rows) {
  const where = key.split("\t")[1] ?? "";
  const fileName = where === "" || where.startsWith("←") ? "(native / runtime)" : where.replace(/:\d+$/, "");
  byFile.set(fileName, (byFile.get(fileName) ?? 0) + us);
}
console.log("\nby file:");
for (const [f, us] of [...byFile.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
  console.log(`${((100 * us) / busy).toFixed(1).padStart(6)}% ${(us / requests).toFixed(2).padStart(7)}  ${f}`);
}
if (keep) console.log(`\nprofile kept at ${join(dir, file)}`);
else removeBenchTempDir();
process.exit(0);

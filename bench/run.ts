/**
 * `npm run bench` (full set, < 15 min) and `npm run bench -- --quick` (< 3 min): every scenario of
 * docs/BENCHMARKS.md, written at the end. Traffic stays on 127.0.0.1; every process started here
 * is stopped on success, error and Ctrl-C.
 *
 *   bun bench/run.ts [--quick] [--only id,id,…] [--out docs/BENCHMARKS.md]
 *
 * ids: baseline baseline-kept-memory ingest-memory flood floor envelope gzip ingest-sqlite ingest-redis sustained forwarding pacing memory binary redis-topology
 */
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import { BINARY, ensureBinary, startupTime } from "./lib/binary.ts";
import { forwardingThroughput, idleLatency, pacingRun, type PacingSetup } from "./lib/forwarding.ts";
import { runOnce, SCENARIOS, type Durations } from "./lib/ingest.ts";
import { fetchLoop, sustainedRun, type DeliveryResults, type SustainedResult } from "./lib/sustained.ts";
import { memoryPerEventMedian } from "./lib/memory.ts";
import { buildPayloads } from "./lib/payloads.ts";
import { cpuModel, killAllNow, loadAvg, stopAll } from "./lib/proc.ts";
import { redisTopology } from "./lib/redis-topology.ts";
import { RATIO_PAIRS, renderReport, type Results } from "./lib/report.ts";
import { runRounds, type Bracket, type Budget } from "./lib/series.ts";
import { benchTempDir, BUN, removeBenchTempDir } from "./lib/servers.ts";
import { wrkAvailable, WRK } from "./lib/wrk.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const onlyArg = args.indexOf("--only");
const only = onlyArg >= 0 ? new Set((args[onlyArg + 1] ?? "").split(",")) : null;
const outArg = args.indexOf("--out");
const outFile = outArg >= 0 ? args[outArg + 1]! : "docs/BENCHMARKS.md";
const wanted = (id: string) => only === null || only.has(id);

const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;
const log = (s: string) => process.stderr.write(`[${elapsed().toFixed(0).padStart(4)} s] ${s}\n`);

const PLAN = quick
  ? {
      durations: { warmSeconds: 1, measureSeconds: 3, runs: 1 },
      extrasUntilS: [60, 100],
      hardLimitS: 260,
      fwdEvents: 4000,
      fwdMaxS: 15,
      startups: 5,
      memoryRuns: 1,
      gzipVariants: 8192,
      pacing: { baseMs: 30, perInFlightMs: 3, feedPerSecond: 600, settleSeconds: 2, windowSeconds: 5 },
      idleRequests: 30,
      sustained: { conns: 16, warmSeconds: 2, measureSeconds: 5, rounds: 1, projects: 5000 },
      fetchLoopRequests: 10_000,
      topology: { events: 5000, conns: 64 },
    }
  : {
      durations: { warmSeconds: 2, measureSeconds: 6, runs: 3 },
      extrasUntilS: [400, 640],
      hardLimitS: 1000,
      fwdEvents: 30000,
      fwdMaxS: 60,
      startups: 10,
      memoryRuns: 3,
      gzipVariants: 8192,
      pacing: { baseMs: 30, perInFlightMs: 3, feedPerSecond: 600, settleSeconds: 4, windowSeconds: 12 },
      idleRequests: 100,
      sustained: { conns: 16, warmSeconds: 2, measureSeconds: 10, rounds: 3, projects: 5000 },
      fetchLoopRequests: 20_000,
      topology: { events: 20_000, conns: 64 },
    };
const CONNECTIONS = [16, 128];

async function cleanupAndExit(code: number): Promise<never> {
  await stopAll().catch(() => {});
  removeBenchTempDir();
  process.exit(code);
}
process.on("SIGINT", () => void (log("interrupted: stopping everything started"), cleanupAndExit(130)));
process.on("SIGTERM", () => void (log("terminated: stopping everything started"), cleanupAndExit(143)));
process.on("exit", killAllNow);

async function preflight(): Promise<void> {
  if (!(await wrkAvailable())) {
    console.error(`wrk not found at ${WRK}: install it with \`apt-get install wrk\``);
    process.exit(1);
  }
  if (Bun.spawnSync(["taskset", "-V"]).exitCode !== 0) {
    console.error("taskset not found: install util-linux (`apt-get install util-linux`)");
    process.exit(1);
  }
  if (availableParallelism() < 2) log("warning: one core only; server and wrk share it, figures are not comparable");
}

async function main(): Promise<void> {
  await preflight();
  const overHard = () => elapsed() > PLAN.hardLimitS;
  const d: Durations = PLAN.durations;
  const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
  const results: Results = {
    meta: {
      date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      nproc: availableParallelism(),
      cpu: cpuModel(),
      bun: Bun.version,
      cyclops: pkg.version,
      command: `npm run bench${quick ? " -- --quick" : ""}${only ? ` (--only ${[...only].join(",")})` : ""}`,
      quick,
      durations: `warm-up ${d.warmSeconds} s + measured ${d.measureSeconds} s per run, ${d.runs} run(s) per point, connections ${CONNECTIONS.join(" and ")}`,
      loadStart: loadAvg(),
      loadEnd: "",
      elapsedSeconds: 0,
      memTotalMb: totalmem() / 1024 / 1024,
    },
    wrk: [],
  };
  log(`cyclops ${pkg.version}, bun ${Bun.version}, ${results.meta.cpu}; load ${results.meta.loadStart}; ${quick ? "quick" : "full"} run`);
  const payloads = buildPayloads(benchTempDir(), PLAN.gzipVariants);
  log(`payload: ${payloads.eventBytes} B event, ${payloads.gzipVariants} gzip variants`);

  try {
    const scenarios = SCENARIOS.filter((s) => wanted(s.id));
    for (const scenario of scenarios) results.wrk.push({ scenario, series: [] });
    for (const [i, conns] of CONNECTIONS.entries()) {
      // Extra rounds (spread, drift) start only before this point of the run, so the whole set
      // stays under 15 minutes (quick: 3) whatever the VM does.
      const budget: Budget = { deadline: started + PLAN.extrasUntilS[i]! * 1000 };
      if (scenarios.length === 0) break;
      if (overHard()) {
        for (const entry of results.wrk)
          entry.series.push({ conns, runs: [], rounds: [], median: null, rpsMin: 0, rpsMax: 0, discarded: 0, failed: "skipped: time budget", notes: [] });
        continue;
      }
      log(`${scenarios.map((s) => s.id).join(", ")} @ ${conns} connections, in rounds`);
      const roundScenarios = scenarios.map((scenario) => ({ id: scenario.id, once: () => runOnce(scenario, payloads, conns, d) }));
      const series = await runRounds(conns, roundScenarios, d.runs, RATIO_PAIRS, budget, log, baselineBracket(scenarios.map((s) => s.id)));
      for (const entry of results.wrk) entry.series.push(series.get(entry.scenario.id)!);
    }

    if (wanted("sustained") && !overHard()) results.delivery = await sustained(payloads);

    if (wanted("forwarding")) {
      results.throughput = [];
      // The default (adaptive, default compression) first; then each compression, for the choice of default.
      const variants = [
        { pacing: "adaptive" },
        { pacing: "adaptive", UPSTREAM_COMPRESSION: "gzip" },
        { pacing: "adaptive", UPSTREAM_COMPRESSION: "none" },
        { pacing: "original" },
      ] as const;
      for (const { pacing, ...extra } of variants) {
        if (overHard()) {
          results.throughput.push({ pacing, failed: "skipped: time budget" });
          continue;
        }
        log(`forwarding throughput, ${pacing} pacing${"UPSTREAM_COMPRESSION" in extra ? `, compression ${extra.UPSTREAM_COMPRESSION}` : ""}`);
        try {
          const t = await forwardingThroughput(pacing, payloads.eventTemplate, PLAN.fwdEvents, PLAN.fwdMaxS, extra);
          log(`    ${Math.round(t.perSecond)} events/s (${t.delivered} in ${t.seconds.toFixed(1)} s)`);
          results.throughput.push(t);
        } catch (e) {
          log(`    failed: ${(e as Error).message}`);
          results.throughput.push({ pacing, failed: firstLine(e) });
        }
      }
    }

    if (wanted("pacing") && !overHard()) {
      const setup: PacingSetup = PLAN.pacing;
      log(`pacing: Sentry latency ${setup.baseMs} ms + ${setup.perInFlightMs} ms × in flight`);
      try {
        const idle = await idleLatency(setup, PLAN.idleRequests);
        const runs: Array<Awaited<ReturnType<typeof pacingRun>> | { pacing: string; failed: string }> = [];
        for (const pacing of ["original", "adaptive"] as const) {
          try {
            const r = await pacingRun(pacing, payloads.eventTemplate, setup);
            log(`    ${pacing}: ${r.perSecond.toFixed(1)} events/s, Sentry p99 ${r.p99Ms} ms (idle p99 ${idle.p99Ms} ms), max in flight ${r.maxInFlight}`);
            runs.push(r);
          } catch (e) {
            log(`    ${pacing} failed: ${(e as Error).message}`);
            runs.push({ pacing, failed: firstLine(e) });
          }
        }
        results.pacing = { setup, idleP50: idle.p50Ms, idleP99: idle.p99Ms, runs };
      } catch (e) {
        results.pacing = { failed: firstLine(e) };
      }
    }

    if (wanted("memory") && !overHard()) {
      log("memory per queued event (100,000 events)");
      try {
        results.memory = await memoryPerEventMedian(payloads, 100_000, PLAN.memoryRuns, {}, log);
        log(`    median: ${Math.round(results.memory.bytesPerEvent)} B per queued event (${results.memory.ratio.toFixed(2)}× payload)`);
        log("  without keeping freed memory (reference)");
        results.memoryReleasing = await memoryPerEventMedian(payloads, 100_000, PLAN.memoryRuns, { env: { CYCLOPS_KEEP_FREED_MEMORY: "0" } }, log);
        log(`    median: ${Math.round(results.memoryReleasing.bytesPerEvent)} B per queued event (${results.memoryReleasing.ratio.toFixed(2)}× payload)`);
      } catch (e) {
        log(`    failed: ${(e as Error).message}`);
        results.memory = { failed: firstLine(e) };
      }
    }

    if (wanted("binary") && !overHard()) {
      log("binary: size and start-up");
      try {
        const bin = await ensureBinary(log);
        const startups = [await startupTime(`${BINARY} serve`, [BINARY], PLAN.startups), await startupTime("bun src/main.ts serve", [BUN, "src/main.ts"], PLAN.startups)];
        for (const s of startups) log(`    ${s.what}: ${s.medianMs.toFixed(1)} ms median`);
        results.binary = { sizeMb: bin.sizeMb, built: bin.built, mtime: bin.mtime.toISOString().replace(/\.\d+Z$/, "Z"), startups };
      } catch (e) {
        log(`    failed: ${(e as Error).message}`);
        results.binary = { failed: firstLine(e) };
      }
    }

    if (wanted("redis-topology") && !overHard()) {
      try {
        results.redisTopology = await redisTopology(PLAN.topology, log);
      } catch (e) {
        results.redisTopology = { failed: firstLine(e) };
      }
    }
  } finally {
    await stopAll();
    results.meta.loadEnd = loadAvg();
    results.meta.elapsedSeconds = elapsed();
    writeFileSync(outFile, renderReport(results) + "\n");
    log(`wrote ${outFile}`);
    removeBenchTempDir();
  }
}

/** The sustained scenario in rounds (relay, cyclops, cyclops with many projects), then the fetch-loop floor. */
async function sustained(payloads: ReturnType<typeof buildPayloads>): Promise<DeliveryResults> {
  const setup = PLAN.sustained;
  const d: DeliveryResults = { setup, rounds: [], fetchLoops: [] };
  const attempt = async (what: string, f: () => Promise<SustainedResult>) => {
    try {
      const r = await f();
      log(
        `    ${what}: accepted ${Math.round(r.acceptedPerSecond)}/s, delivered ${Math.round(r.deliveredPerSecond)}/s, queue ${r.queueGrowthPerSecond >= 0 ? "+" : ""}${Math.round(r.queueGrowthPerSecond)}/s`,
      );
      return r;
    } catch (e) {
      log(`    ${what} failed: ${(e as Error).message}`);
      return { failed: firstLine(e) };
    }
  };
  for (let i = 0; i < setup.rounds && !overHardLimit(); i++) {
    log(`sustained round ${i + 1}: ingest at ${setup.conns} connections while forwarding`);
    const relay = await attempt("relay", () => sustainedRun("relay", payloads, setup));
    const cyclops = await attempt("cyclops", () => sustainedRun("cyclops", payloads, setup));
    const projects = await attempt(`cyclops, ${setup.projects} projects`, () => sustainedRun("cyclops", payloads, setup, setup.projects));
    d.rounds.push({ relay, cyclops, projects });
  }
  for (const inFlight of [1, 32]) {
    try {
      const l = await fetchLoop(inFlight, PLAN.fetchLoopRequests, payloads.eventTemplateFile);
      log(`    fetch loop, ${inFlight} in flight: ${l.cpuUsPerRequest.toFixed(1)} µs CPU/request`);
      d.fetchLoops.push(l);
    } catch (e) {
      d.fetchLoops.push({ inFlight, failed: firstLine(e) });
    }
  }
  return d;
}

const overHardLimit = () => elapsed() > PLAN.hardLimitS;

/**
 * The baseline runs again right after the last scenario a bar divides by it (series.ts), when the
 * baseline and one of those are both selected.
 */
function baselineBracket(ids: string[]): Bracket | undefined {
  const judged = ids.filter((id) => RATIO_PAIRS.some((p) => p.ref === "baseline" && p.id === id));
  return ids.includes("baseline") && judged.length > 0 ? { ref: "baseline", after: judged[judged.length - 1]! } : undefined;
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e)
    .split("\n")[0]!
    .slice(0, 300);
}

main().then(
  () => process.exit(0),
  async (e) => {
    console.error(e);
    await cleanupAndExit(1);
  },
);

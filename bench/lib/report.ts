/** docs/BENCHMARKS.md from the collected results: machine, versions, command, tables, the bar. */
import type { StartupResult } from "./binary.ts";
import type { PacingResult, PacingSetup, ThroughputResult } from "./forwarding.ts";
import type { WrkScenario } from "./ingest.ts";
import type { MemoryResult } from "./memory.ts";
import { deliverySection, deliveryVerdicts } from "./report-delivery.ts";
import { topologySection, topologyVerdict } from "./report-redis.ts";
import type { TopologyResults } from "./redis-topology.ts";
import type { DeliveryResults } from "./sustained.ts";
import { pairedRatio, type RatioPair, type Series } from "./series.ts";

export type Maybe<T> = T | { failed: string };
export const isFailed = <T>(x: Maybe<T> | undefined): x is { failed: string } => x !== undefined && typeof x === "object" && x !== null && "failed" in x;

export interface Results {
  meta: {
    date: string;
    nproc: number;
    cpu: string;
    bun: string;
    cyclops: string;
    command: string;
    quick: boolean;
    durations: string;
    loadStart: string;
    loadEnd: string;
    elapsedSeconds: number;
    memTotalMb: number;
  };
  wrk: Array<{ scenario: WrkScenario; series: Series[] }>;
  throughput?: Array<Maybe<ThroughputResult> & { pacing: string }>;
  /** The sustained scenario (ingest while forwarding) and the fetch-loop floor. */
  delivery?: DeliveryResults;
  pacing?: Maybe<{ setup: PacingSetup; idleP50: number | null; idleP99: number | null; runs: Array<Maybe<PacingResult> & { pacing: string }> }>;
  memory?: Maybe<MemoryResult>;
  /** The same without the allocator restart (CYCLOPS_KEEP_FREED_MEMORY=0), for reference. */
  memoryReleasing?: Maybe<MemoryResult>;
  binary?: Maybe<{ sizeMb: number; built: boolean; mtime: string; startups: StartupResult[] }>;
  /** One Redis against a cluster: commands and round trips per accepted report. */
  redisTopology?: Maybe<TopologyResults>;
}

const f0 = (n: number) => Math.round(n).toLocaleString("en-US");
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const ms = (n: number | null | undefined) => (n === null || n === undefined ? "–" : `${f1(n)} ms`);

function seriesFor(r: Results, id: string, conns: number): Series | undefined {
  return r.wrk.find((w) => w.scenario.id === id)?.series.find((s) => s.conns === conns);
}

/** id's req/s over ref's, as the median of the ratios within each round (series.ts). */
function ratioOf(r: Results, id: string, ref: string, conns: number): ReturnType<typeof pairedRatio> {
  return pairedRatio(seriesFor(r, id, conns), seriesFor(r, ref, conns));
}

/** The ratios the bar is judged on; the rounds add runs when one of them spreads too much. */
const BARS: Array<RatioPair & { criterion: string; bar: number; reference?: boolean }> = [
  { criterion: "Ingest alone (memory: nothing drains, every report kept) vs a baseline that keeps every body, prebuilt requests", id: "ingest-memory", ref: "baseline", bar: 0.9 },
  { criterion: "(reference) Ingest (memory) vs baseline with the same allocator setting", id: "ingest-memory", ref: "baseline-kept-memory", bar: 0.9, reference: true },
  { criterion: "(reference) A minimal gateway with cyclops's unavoidable work (bench/floor.ts) vs the baseline", id: "floor", ref: "baseline", bar: 0.9, reference: true },
  { criterion: "(reference) Ingest (memory) vs that minimal gateway", id: "ingest-memory", ref: "floor", bar: 0.9, reference: true },
  { criterion: "Flood path vs baseline", id: "flood", ref: "baseline", bar: 1.0 },
  { criterion: "SQLite spool vs memory ingest", id: "ingest-sqlite", ref: "ingest-memory", bar: 0.6 },
  { criterion: "Redis storage + counters vs memory ingest", id: "ingest-redis", ref: "ingest-memory", bar: 0.5 },
];
export const RATIO_PAIRS: RatioPair[] = BARS.filter((b) => !b.reference);

/** "runs: 1.52×, 1.61×, 1.70×" for a repeated memory measurement. */
function runsNote(m: MemoryResult): string {
  return m.ratios && m.ratios.length > 1 ? `runs: ${m.ratios.map((x) => `${f2(x)}×`).join(", ")}` : "";
}

function wrkTable(r: Results, entry: Results["wrk"][number]): string[] {
  const lines = [
    `| connections | req/s (median) | min–max | p50 | p99 | server CPU/req | faults/req | server cores | others (cores) | × baseline | runs | notes |`,
    `|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|`,
  ];
  for (const s of entry.series) {
    if (s.failed || !s.median) {
      lines.push(`| ${s.conns} | failed: ${s.failed ?? "no result"} | | | | | | | | | | |`);
      continue;
    }
    const m = s.median;
    const paired = entry.scenario.id === "baseline" ? null : ratioOf(r, entry.scenario.id, "baseline", s.conns);
    const ratio = entry.scenario.id === "baseline" ? "1.00×" : paired ? `${f2(paired.median)}×` : "–";
    const notes = [...s.notes, ...(s.discarded ? [`${s.discarded} disturbed run(s) repeated`] : []), ...m.notes].join("; ");
    lines.push(
      `| ${s.conns} | ${f0(m.rps)} | ${f0(s.rpsMin)}–${f0(s.rpsMax)} | ${f2(m.p50Ms)} ms | ${f2(m.p99Ms)} ms | ${f1(m.cpuUsPerReq)} µs | ${f2(m.faultsPerReq ?? NaN)} | ${f2(m.serverCores)} | ${f2(m.foreignCores)} | ${ratio} | ${s.runs.length} | ${notes} |`,
    );
  }
  return lines;
}

type Verdict = { criterion: string; measured: string; bar: string; ok: boolean | null; reference?: boolean };

function ratioVerdict(r: Results, b: (typeof BARS)[number]): Verdict {
  const parts: string[] = [];
  let ok: boolean | null = true;
  for (const conns of [16, 128]) {
    const ratio = ratioOf(r, b.id, b.ref, conns);
    if (ratio === null) {
      const failed = seriesFor(r, b.id, conns)?.failed ?? seriesFor(r, b.ref, conns)?.failed ?? "not run";
      parts.push(`${conns} conns: ${failed.startsWith("failed") ? failed : `failed: ${failed}`}`);
      ok = null;
      continue;
    }
    const leftOut = ratio.leftOut.length ? `; left out, ${b.ref} drifted within the round: ${ratio.leftOut.map(f2).join(", ")}` : "";
    const driftedOnly = ratio.driftedOnly ? `; every round's ${b.ref} drifted, so these are all of them` : "";
    parts.push(`${conns} conns: ${f2(ratio.median)}× (rounds: ${ratio.perRound.map(f2).join(", ")}${leftOut}${driftedOnly})`);
    if (ratio.median < b.bar && ok !== null) ok = false;
  }
  return b.reference
    ? { criterion: b.criterion, measured: parts.join(", "), bar: "none (reference)", ok: null, reference: true }
    : { criterion: b.criterion, measured: parts.join(", "), bar: `≥ ${b.bar}×`, ok };
}

function verdicts(r: Results): Verdict[] {
  const out: Verdict[] = BARS.map((b) => ratioVerdict(r, b));
  const p = r.pacing;
  if (!p || isFailed(p)) {
    out.push({ criterion: "Adaptive vs original pacing", measured: p ? `failed: ${p.failed}` : "not run", bar: "≥ 3× events/s, p99 ≤ 2× idle p99", ok: null });
  } else {
    const orig = p.runs.find((x) => x.pacing === "original");
    const adap = p.runs.find((x) => x.pacing === "adaptive");
    if (!orig || !adap || isFailed(orig) || isFailed(adap)) {
      const why = [orig, adap]
        .map((x) => (x === undefined ? "not run" : isFailed(x) ? `${x.pacing}: failed: ${x.failed}` : ""))
        .filter((x) => x !== "")
        .join("; ");
      out.push({ criterion: "Adaptive vs original pacing", measured: why || "not run", bar: "≥ 3× events/s, p99 ≤ 2× idle p99", ok: null });
    } else {
      const speedup = orig.perSecond > 0 ? adap.perSecond / orig.perSecond : Infinity;
      const p99ok = adap.p99Ms !== null && p.idleP99 !== null && adap.p99Ms <= 2 * p.idleP99;
      out.push({
        criterion: "Adaptive vs original pacing",
        measured: `${f1(speedup)}× events/s (${f1(adap.perSecond)} vs ${f1(orig.perSecond)}); adaptive p99 ${ms(adap.p99Ms)} vs idle p99 ${ms(p.idleP99)}`,
        bar: "≥ 3× events/s, p99 ≤ 2× idle p99",
        ok: speedup >= 3 && p99ok,
      });
    }
  }
  out.push(...deliveryVerdicts(r.delivery, r.throughput));
  const m = r.memory;
  out.push(
    !m || isFailed(m)
      ? { criterion: "Memory per queued event", measured: m ? `failed: ${m.failed}` : "not run", bar: "≤ 1.5× payload bytes", ok: null }
      : {
          criterion: "Memory per queued event",
          measured: `${f0(m.bytesPerEvent)} B for a ${f0(m.payloadBytes)} B payload (${f2(m.ratio)}×, median${m.ratios && m.ratios.length > 1 ? ` of ${m.ratios.map(f2).join(", ")}` : ""})`,
          bar: "≤ 1.5× payload bytes",
          ok: m.ratio <= 1.5,
        },
  );
  const rel = r.memoryReleasing;
  if (rel && !isFailed(rel)) {
    out.push({
      criterion: "(reference) Memory per queued event, freed pages given back",
      measured: `${f0(rel.bytesPerEvent)} B (${f2(rel.ratio)}×)`,
      bar: "none (reference)",
      ok: null,
      reference: true,
    });
  }
  out.push(topologyVerdict(r.redisTopology));
  return out;
}

export function renderReport(r: Results): string {
  const L: string[] = [];
  const m = r.meta;
  L.push("# Benchmarks", "");
  L.push(
    `Written by \`${m.command}\` on ${m.date}${m.quick ? " — **quick run** (1 run per point, short durations: indicative only)" : ""}. Do not edit by hand; re-run to update.`,
    "",
  );
  L.push("## Machine and versions", "");
  L.push(`- CPU: ${m.cpu}, ${m.nproc} cores (nproc); memory ${f0(m.memTotalMb)} MiB`);
  L.push(`- Bun ${m.bun}; cyclops ${m.cyclops} (run from source: \`bun src/main.ts serve\`)`);
  L.push(`- Load average at start / end: ${m.loadStart} / ${m.loadEnd}; whole run took ${f0(m.elapsedSeconds)} s`);
  L.push(`- Durations: ${m.durations}`, "");
  L.push("## Method", "");
  L.push(
    "- The server under test is pinned to core 0 (`taskset -c 0`), wrk to core 1 (`taskset -c 1 wrk -t1 -cN`). Every run starts a fresh server, warms it with an unmeasured wrk round, then measures one round. All traffic stays on 127.0.0.1. wrk sends requests built in its init hook, before its clock starts (65,536 distinct ones, sent in turn: bench/wrk/common.lua), so the load generator does no per-request work that could make it the bottleneck of the faster server.",
    "- Runs go in **rounds**: at one connection count every scenario runs once per round, in the order of the tables below, and there are three rounds (quick: one). A ratio (× baseline, and every ratio of the summary) is the **median of the ratios taken within each round**, between runs at most a couple of minutes apart, because this VM drifts by 15–50 % over minutes; the summary lists the per-round ratios.",
    "- The baseline **brackets** the scenarios its bars judge: it runs first in each round and again right after the last of them (the flood), and ratios to it divide by the geometric mean of the two runs. This VM has slow phases that start and end within a minute and show no steal time in /proc/stat, so the baseline measuring more than 10 % apart within one round is the sign of one: that round's ratios to the baseline are listed as left out, and it is made up by a round of the bracket alone (baseline, ingest, flood, baseline; at most four such rounds, started only while the time budget allows).",
    "- Each table row is the median run (by req/s) of a scenario, with the min–max of its kept runs. **server CPU/req** is the server's utime+stime delta (/proc/PID/stat) over the measured round divided by its requests; **server cores** is that CPU over wall time (1.00 = core 0 saturated).",
    "- **faults/req**: the server's minor page faults (/proc/PID/stat) over the measured round divided by its requests. What a fault costs differs between VMs (13–15 µs on an earlier one, about 1.7 µs on the one of December 2026); cyclops's `serve` restarts itself with its allocator told to keep freed pages (src/cli/allocator.ts), the reference baseline row shows what that setting alone gives a bare server.",
    "- **others (cores)**: CPU used on the machine by anything but the server and wrk during the round (/proc/stat busy time minus both). A run above 0.25 cores was thrown away and repeated once; when a ratio of the bar spread more than 15 % over three rounds, two more rounds were run.",
    '- **× baseline** divides req/s by bench/baseline.ts\'s in the same round (the geometric mean of its two runs there), at the same connection count: a bare Bun.serve that reads the same ~2.2 KB event (bench/payloads/event.json), JSON.parses it, keeps every body (an array that only grows, as the queue of cyclops does while nothing drains) and answers `{"id"}`.',
    "- Ingest runs point SENTRY_BASE_URL at a closed port, so nothing drains and the queue (made large) never fills; /count is read before and after to check that every request was processed (or, for the flood, dropped).",
    "- Profile of the hot path: `bun bench/profile.ts` (runs cyclops under `bun --cpu-prof` during the distinct-event ingest and prints the top functions by self time).",
    "",
  );
  L.push("## Summary against the bar", "");
  L.push("| criterion | measured | bar | verdict |", "|---|---|---|---|");
  for (const v of verdicts(r)) L.push(`| ${v.criterion} | ${v.measured} | ${v.bar} | ${v.reference ? "–" : v.ok === null ? "not measured" : v.ok ? "pass" : "**FAIL**"} |`);
  L.push("");

  L.push("## Ingest scenarios", "");
  for (const entry of r.wrk) {
    L.push(`### ${entry.scenario.title}`, "", entry.scenario.what, "", ...wrkTable(r, entry), "");
  }

  L.push("## Forwarding", "");
  L.push(...deliverySection(r.delivery));
  if (r.throughput) {
    L.push("### Backlog drain (after an outage)", "");
    L.push(
      "Delivered events per second to a fake Sentry answering 200 at once (bench/fake-upstream.ts, core 1); queue prefilled while the fake held its answers (an outage), then drained with nothing else to do. cyclops on core 0, memory storage; CPU/event is cyclops's CPU over the drain per delivered event. Compression \"default\" is UPSTREAM_COMPRESSION's default.",
      "",
    );
    L.push("| pacing | compression | delivered | seconds | events/s | cyclops CPU/event | Sentry max in flight | notes |", "|---|---|---:|---:|---:|---:|---:|---|");
    for (const t of r.throughput) {
      if (isFailed(t)) L.push(`| ${t.pacing} | | failed: ${t.failed} | | | | | |`);
      else
        L.push(
          `| ${t.pacing} | ${t.compression} | ${f0(t.delivered)} | ${f1(t.seconds)} | ${f0(t.perSecond)} | ${f1(t.cpuUsPerEvent)} µs | ${t.upstreamMaxInFlight} | ${t.notes.join("; ")} |`,
        );
    }
    L.push("");
  }
  const p = r.pacing;
  if (p) {
    L.push("### Pacing against a Sentry that slows down under load", "");
    if (isFailed(p)) L.push(`failed: ${p.failed}`, "");
    else {
      const s = p.setup;
      L.push(
        `The fake Sentry imposes ${s.baseMs} ms + ${s.perInFlightMs} ms × (requests in flight). A feeder posts ~${s.feedPerSecond} events/s so the queue never empties; after ${s.settleSeconds} s, delivered/s and the latency Sentry imposed are measured over ${s.windowSeconds} s. Sentry idle (one request at a time): p50 ${ms(p.idleP50)}, p99 ${ms(p.idleP99)}.`,
        "",
        "| pacing | events/s | Sentry p50 | Sentry p99 | p99 / idle p99 | Sentry max in flight | notes |",
        "|---|---:|---:|---:|---:|---:|---|",
      );
      for (const x of p.runs) {
        if (isFailed(x)) L.push(`| ${x.pacing} | failed: ${x.failed} | | | | | |`);
        else
          L.push(
            `| ${x.pacing} | ${f1(x.perSecond)} | ${ms(x.p50Ms)} | ${ms(x.p99Ms)} | ${x.p99Ms !== null && p.idleP99 ? `${f2(x.p99Ms / p.idleP99)}×` : "–"} | ${x.maxInFlight} | ${x.notes.join("; ")} |`,
          );
      }
      L.push("");
    }
  }

  L.push("## Memory per queued event", "");
  const mem = r.memory;
  if (!mem) L.push("not run", "");
  else if (isFailed(mem)) L.push(`failed: ${mem.failed}`, "");
  else {
    L.push(
      "cyclops with memory storage and an unreachable Sentry; VmRSS (/proc/PID/status) before and after queueing distinct events (the runner's own client, 64 in flight), after a warm-up of 3,000 events. Each row is the median of three runs on fresh servers (quick: one); the notes list every run's ratio.",
      "",
      "| queued | RSS before | RSS after | bytes per queued event | payload bytes | ratio | notes |",
      "|---:|---:|---:|---:|---:|---:|---|",
      `| ${f0(mem.queued)} | ${f1(mem.rssBeforeMb)} MiB | ${f1(mem.rssAfterMb)} MiB | ${f0(mem.bytesPerEvent)} | ${f0(mem.payloadBytes)} | ${f2(mem.ratio)}× | ${[runsNote(mem), ...mem.notes].filter(Boolean).join("; ")} |`,
    );
    const rel = r.memoryReleasing;
    if (rel && !isFailed(rel)) {
      L.push(
        `| ${f0(rel.queued)} | ${f1(rel.rssBeforeMb)} MiB | ${f1(rel.rssAfterMb)} MiB | ${f0(rel.bytesPerEvent)} | ${f0(rel.payloadBytes)} | ${f2(rel.ratio)}× | reference: CYCLOPS_KEEP_FREED_MEMORY=0 (allocator gives freed pages back; no bar)${runsNote(rel) ? `; ${runsNote(rel)}` : ""} |`,
      );
    }
    L.push(
      "",
      "The first row is cyclops as shipped: `serve` keeps the pages its allocator frees (src/cli/allocator.ts), which is what makes ingest fast on this VM, and ΔRSS counts that kept, reusable memory (the garbage of the run) as well as the queue. The second row gives the freed pages back.",
      "",
    );
  }

  L.push(...topologySection(r.redisTopology));

  L.push("## The binary", "");
  const b = r.binary;
  if (!b) L.push("not run", "");
  else if (isFailed(b)) L.push(`failed: ${b.failed}`, "");
  else {
    L.push(
      `dist/cyclops: ${f1(b.sizeMb)} MiB${b.built ? " (built by this run)" : ` (built ${b.mtime})`}. Start-up = exec to the first 200 on /healthcheck (polled every ms), after one unmeasured start.`,
      "",
      "| command | median | min–max | starts |",
      "|---|---:|---:|---:|",
      ...b.startups.map((s) => `| ${s.what} | ${f1(s.medianMs)} ms | ${f1(s.minMs)}–${f1(s.maxMs)} ms | ${s.runs} |`),
      "",
    );
  }
  return L.join("\n");
}

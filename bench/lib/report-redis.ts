/** docs/BENCHMARKS.md's Redis topology part: one Redis against a cluster, and its bar on round trips. */
import type { TopologyResult, TopologyResults } from "./redis-topology.ts";

type Failed = { failed: string };
const failed = (x: unknown): x is Failed => typeof x === "object" && x !== null && "failed" in x;
const f0 = (n: number) => Math.round(n).toLocaleString("en-US");
const f3 = (n: number) => n.toFixed(3);

export type TopologyVerdict = { criterion: string; measured: string; bar: string; ok: boolean | null };

const CRITERION = "Redis round trips per accepted report (cluster, batching)";
const BAR = 0.2;

/** Judged on every cluster run (with and without WAIT): the worst of them is under the bar. */
export function topologyVerdict(t: TopologyResults | Failed | undefined): TopologyVerdict {
  const bar = `≤ ${BAR}`;
  if (!t) return { criterion: CRITERION, measured: "not run", bar, ok: null };
  if (failed(t)) return { criterion: CRITERION, measured: `failed: ${t.failed}`, bar, ok: null };
  const clusters = t.runs.filter((r) => r.label.startsWith("cluster"));
  const done = clusters.filter((r): r is TopologyResult => !failed(r) && Number.isFinite(r.roundTripsPerReport));
  const parts = clusters.map((r) => (failed(r) ? `${r.label}: failed` : `${r.label}: ${f3(r.roundTripsPerReport)}`));
  if (done.length === 0) return { criterion: CRITERION, measured: parts.join("; ") || "not run", bar, ok: null };
  const ok = done.every((r) => r.roundTripsPerReport <= BAR);
  return { criterion: CRITERION, measured: parts.join("; "), bar, ok: done.length < clusters.length && ok ? null : ok };
}

function row(r: TopologyResult | (Failed & { label: string })): string {
  if (failed(r)) return `| ${r.label} | failed: ${r.failed} | | | |`;
  const commands = r.sent.map(([k, v]) => `${f0(v)} ${k.toUpperCase()}`).join(", ");
  const notes = [
    r.accepted < r.events ? `${f0(r.events - r.accepted)} not accepted` : "",
    r.cluster && r.sent.some(([k]) => k === "wait") ? "WAIT and its EXISTS share a pipeline" : "",
  ]
    .filter(Boolean)
    .join("; ");
  return `| ${r.label} | ${f3(r.commandsPerReport)} (${commands}) | ${f3(r.roundTripsPerReport)} | ${f0(r.perSecond)} | ${notes} |`;
}

export function topologySection(t: TopologyResults | Failed | undefined): string[] {
  if (!t) return [];
  const L = ["## Redis: one server against a cluster", ""];
  if (failed(t)) return [...L, `failed: ${t.failed}`, ""];
  const s = t.setup;
  L.push(
    `One cyclops with Redis storage and counters (STORAGE redis, CACHE_IMPLEMENTATION_CLASS redis, Sentry unreachable) on core 0; the runner's own client posts ${f0(s.events)} distinct reports of one project over ${s.conns} connections after 500 unmeasured ones. Topologies: its own redis-server (core 1), then a private cluster of 3 masters (test/helpers/redis-cluster.ts, not pinned), then 3 masters + 3 replicas with REDIS_WAIT_REPLICAS 1. **Commands** are what clients sent the masters during the measured reports, from INFO commandstats (scripts, SADD, SMEMBERS, WAIT and the EXISTS that routes it on a cluster; not what the scripts run inside), per accepted report. **Round trips** are those commands less each EXISTS sent in one pipeline with its WAIT: an upper bound, since auto-pipelined commands share round trips too. They are counts, not timings; the reports/s of one run on a shared machine say only that a topology is not slower per report, and all reports go to one project (one master does the work).`,
    "",
    `Load average before / after: ${t.loadBefore} / ${t.loadAfter}.`,
    "",
    "| topology | commands per accepted report | round trips per report | reports/s | notes |",
    "|---|---:|---:|---:|---|",
    ...t.runs.map(row),
    "",
  );
  return L;
}

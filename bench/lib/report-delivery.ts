/** docs/BENCHMARKS.md's delivery parts: the sustained scenario, the fetch-loop floor, their bars. */
import type { ThroughputResult } from "./forwarding.ts";
import type { DeliveryResults, SustainedResult } from "./sustained.ts";

type Failed = { failed: string };
const failed = (x: unknown): x is Failed => typeof x === "object" && x !== null && "failed" in x;
const f0 = (n: number) => Math.round(n).toLocaleString("en-US");
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

export type DeliveryVerdict = { criterion: string; measured: string; bar: string; ok: boolean | null };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Per-round ratios of `num` over `den` (rounds where either failed are skipped). */
function roundRatios(
  d: DeliveryResults,
  num: (r: DeliveryResults["rounds"][number]) => unknown,
  den: (r: DeliveryResults["rounds"][number]) => unknown,
  of: (x: SustainedResult) => number,
): number[] {
  const out: number[] = [];
  for (const r of d.rounds) {
    const a = num(r);
    const b = den(r);
    if (!a || !b || failed(a) || failed(b)) continue;
    const denom = of(b as SustainedResult);
    if (denom > 0) out.push(of(a as SustainedResult) / denom);
  }
  return out;
}

const listed = (xs: number[]) => `${f2(median(xs))}× (rounds: ${xs.map(f2).join(", ")})`;

export function deliveryVerdicts(d: DeliveryResults | undefined, throughput: Array<ThroughputResult | (Failed & { pacing: string })> | undefined): DeliveryVerdict[] {
  const out: DeliveryVerdict[] = [];
  if (!d) {
    out.push({ criterion: "Sustained delivery vs relay", measured: "not run", bar: "≥ 0.9×", ok: null });
  } else {
    const delivered = roundRatios(
      d,
      (r) => r.cyclops,
      (r) => r.relay,
      (x) => x.deliveredPerSecond,
    );
    out.push({
      criterion: "Sustained delivery vs relay (delivered/s, same round)",
      measured: delivered.length ? listed(delivered) : "failed",
      bar: "≥ 0.9×",
      ok: delivered.length ? median(delivered) >= 0.9 : null,
    });
    const growth = d.rounds
      .map((r) => r.cyclops)
      .filter((x): x is SustainedResult => !failed(x))
      .map((x) => x.queueGrowthPerSecond / Math.max(1, x.acceptedPerSecond));
    out.push({
      criterion: "Sustained: cyclops's queue growth / accepted",
      measured: growth.length ? `${(100 * median(growth)).toFixed(1)} % (rounds: ${growth.map((g) => `${(100 * g).toFixed(1)} %`).join(", ")})` : "failed",
      bar: "≤ 1 % (the queue does not grow)",
      ok: growth.length ? median(growth) <= 0.01 : null,
    });
    const projects = roundRatios(
      d,
      (r) => r.projects,
      (r) => r.cyclops,
      (x) => x.deliveredPerSecond,
    );
    out.push({
      criterion: `Sustained delivery, ${f0(d.setup.projects)} projects vs 1 project`,
      measured: projects.length ? listed(projects) : "not run",
      bar: "≥ 0.9×",
      ok: projects.length ? median(projects) >= 0.9 : null,
    });
  }
  const adaptive = throughput?.find((t): t is ThroughputResult => !failed(t) && t.pacing === "adaptive" && t.compression === "default");
  const loop32 = d?.fetchLoops.find((l) => l.inFlight === 32);
  if (adaptive && loop32 && !failed(loop32)) {
    const ratio = adaptive.cpuUsPerEvent / loop32.cpuUsPerRequest;
    out.push({
      criterion: "Forward CPU per event vs a bare fetch loop at 32 in flight",
      measured: `${f2(ratio)}× (${f1(adaptive.cpuUsPerEvent)} vs ${f1(loop32.cpuUsPerRequest)} µs)`,
      bar: "≤ 1.5×",
      ok: ratio <= 1.5,
    });
  } else {
    out.push({ criterion: "Forward CPU per event vs a bare fetch loop at 32 in flight", measured: "not measured", bar: "≤ 1.5×", ok: null });
  }
  const sustained =
    d?.rounds
      .map((r) => r.cyclops)
      .filter((x): x is SustainedResult => !failed(x))
      .map((x) => x.deliveredPerSecond) ?? [];
  if (adaptive && sustained.length) {
    const ratio = adaptive.perSecond / median(sustained);
    out.push({
      criterion: "Backlog drain after an outage vs sustained delivery",
      measured: `${f2(ratio)}× (${f0(adaptive.perSecond)} vs ${f0(median(sustained))} events/s)`,
      bar: "≥ 0.9×",
      ok: ratio >= 0.9,
    });
  }
  return out;
}

function row(x: SustainedResult | Failed, label: string): string {
  if (failed(x)) return `| ${label} | failed: ${x.failed} | | | | | |`;
  return `| ${label} | ${f0(x.acceptedPerSecond)} | ${f0(x.deliveredPerSecond)} | ${f0(x.queueGrowthPerSecond)} | ${f0(x.queuedAtEnd)} | ${f2(x.serverCores)} | ${x.notes.join("; ")} |`;
}

export function deliverySection(d: DeliveryResults | undefined): string[] {
  if (!d) return [];
  const L: string[] = [];
  L.push("### Sustained: ingest and forwarding at once", "");
  L.push(
    `The server under test on core 0; wrk (${d.setup.conns} connections, distinct ~2.2 KB events, as the ingest scenarios) and a fake Sentry that answers 200 at once (bench/fake-upstream.ts) on core 1. Each run: a fresh server, an unmeasured ${d.setup.warmSeconds} s wrk round, a wait for its queue to empty, then ${d.setup.measureSeconds} s measured. **accepted/s** counts 2xx answers; **delivered/s** what the fake Sentry received (counted on its side); **queue growth** the server's queued items at the end minus at the start, per second. The relay (bench/relay.ts) is the yardstick: Bun.serve reading and JSON.parsing the body, an array, 32 \`fetch\`es in flight, no auth, no compression, no retry. cyclops runs its default config (queue bounds, PACING adaptive, UPSTREAM_COMPRESSION) with the bench's key(s); the many-projects run gives each of ${f0(d.setup.projects)} projects its own key and has wrk pick one at random per request (bench/wrk/store-projects.lua). Rounds run relay, cyclops, cyclops with many projects back to back; ratios are taken within a round.`,
    "",
    "| round: server | accepted/s | delivered/s | queue growth/s | queued at end | server cores | notes |",
    "|---|---:|---:|---:|---:|---:|---|",
  );
  d.rounds.forEach((r, i) => {
    L.push(row(r.relay, `${i + 1}: relay`), row(r.cyclops, `${i + 1}: cyclops`));
    if (r.projects) L.push(row(r.projects, `${i + 1}: cyclops, ${f0(d.setup.projects)} projects`));
  });
  L.push("");
  if (d.fetchLoops.length) {
    L.push(
      "The floor for forwarding CPU: bench/fetch-loop.ts on core 0 POSTs one event body to the same fake Sentry in a bare `fetch` loop, N in flight, nothing else; its CPU per request (after a warm-up) is what the forwarding table's CPU/event compares with.",
      "",
      "| fetch loop in flight | requests | CPU/request |",
      "|---:|---:|---:|",
      ...d.fetchLoops.map((l) => (failed(l) ? `| ${l.inFlight} | failed: ${l.failed} | |` : `| ${l.inFlight} | ${f0(l.requests)} | ${f1(l.cpuUsPerRequest)} µs |`)),
      "",
    );
  }
  return L;
}

/**
 * Forwarding scenarios, cyclops on core 0 and the fake Sentry (bench/fake-upstream.ts) on core 1.
 *
 * Throughput (fake with no latency): the queue is filled while the fake holds its answers, then
 * released; delivered events per second = events delivered / time until the queue is empty. A
 * short delivery phase first fills the latency window, so the one request held during the fill
 * (a multi-second outlier) cannot dominate the original pacing's p90.
 *
 * Pacing (fake whose latency grows with in-flight requests): a feeder keeps the queue non-empty at
 * a rate above what either pacing can deliver; after a settling period, delivered/s and the latency
 * Sentry imposed (its p99) are measured over a window. Sentry's idle p99 is measured first with
 * one request at a time.
 */
import { postEvents, startFeeder } from "./client.ts";
import { processCpuSeconds } from "./proc.ts";
import { baseConfig, count, startCyclops, startFakeUpstream, type Server } from "./servers.ts";

export interface ThroughputResult {
  pacing: string;
  /** UPSTREAM_COMPRESSION of the run. */
  compression: string;
  delivered: number;
  seconds: number;
  perSecond: number;
  /** cyclops CPU per delivered event, µs. */
  cpuUsPerEvent: number;
  upstreamMaxInFlight: number;
  notes: string[];
}

export interface PacingResult {
  pacing: string;
  perSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxInFlight: number;
  notes: string[];
}

interface FakeStats {
  count: number;
  p50_ms: number | null;
  p99_ms: number | null;
  max_in_flight: number;
}

const control = async (fake: Server, what: string) => (await fetch(`${fake.url}/__${what}`, { method: "POST" })).text();
const fakeStats = async (fake: Server) => (await (await fetch(`${fake.url}/__stats`)).json()) as FakeStats;

async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

export async function forwardingThroughput(
  pacing: "original" | "adaptive",
  template: string,
  events: number,
  maxSeconds: number,
  extra: Record<string, unknown> = {},
): Promise<ThroughputResult> {
  const fake = await startFakeUpstream(0, 0);
  let cyclops: Server | null = null;
  try {
    cyclops = await startCyclops(baseConfig({ SENTRY_BASE_URL: fake.url, PACING: pacing, ...extra }));
    const server = cyclops;
    const warm = 300;
    await postEvents(server, template, warm, 8);
    await waitUntil(async () => (await count(server)).delivered >= warm, 20_000, "warm-up deliveries");

    await control(fake, "hold");
    const accepted = await postEvents(server, template, events, 32);
    const before = await count(server);
    await control(fake, "reset");
    const cpu0 = processCpuSeconds(server.child.pid);
    const t0 = performance.now();
    await control(fake, "release");
    const deadline = t0 + maxSeconds * 1000;
    let now = await count(server);
    while (now.count > 0 && performance.now() < deadline) {
      await Bun.sleep(20);
      now = await count(server);
    }
    const seconds = (performance.now() - t0) / 1000;
    const delivered = now.delivered - before.delivered;
    const cpu = processCpuSeconds(server.child.pid) - cpu0;
    const notes: string[] = [];
    if (accepted < events) notes.push(`${events - accepted} of ${events} prefill events refused`);
    if (now.count > 0) notes.push(`stopped after ${maxSeconds} s with ${now.count} still queued`);
    const stats = await fakeStats(fake);
    return {
      pacing,
      compression: String(extra.UPSTREAM_COMPRESSION ?? "default"),
      delivered,
      seconds,
      perSecond: delivered / seconds,
      cpuUsPerEvent: delivered ? (cpu * 1e6) / delivered : 0,
      upstreamMaxInFlight: stats.max_in_flight,
      notes,
    };
  } finally {
    if (cyclops) await cyclops.stop();
    await fake.stop();
  }
}

export interface PacingSetup {
  baseMs: number;
  perInFlightMs: number;
  feedPerSecond: number;
  settleSeconds: number;
  windowSeconds: number;
}

/** p50/p99 the fake imposes with one request at a time: "Sentry idle". */
export async function idleLatency(setup: PacingSetup, requests: number): Promise<{ p50Ms: number | null; p99Ms: number | null }> {
  const fake = await startFakeUpstream(setup.baseMs, setup.perInFlightMs);
  try {
    for (let i = 0; i < requests; i++) {
      const res = await fetch(`${fake.url}/api/1/store/`, { method: "POST", body: "{}" });
      await res.arrayBuffer();
    }
    const s = await fakeStats(fake);
    return { p50Ms: s.p50_ms, p99Ms: s.p99_ms };
  } finally {
    await fake.stop();
  }
}

export async function pacingRun(pacing: "original" | "adaptive", template: string, setup: PacingSetup): Promise<PacingResult> {
  const fake = await startFakeUpstream(setup.baseMs, setup.perInFlightMs);
  let cyclops: Server | null = null;
  try {
    cyclops = await startCyclops(baseConfig({ SENTRY_BASE_URL: fake.url, PACING: pacing }));
    const server = cyclops;
    const feeder = startFeeder(server, template, setup.feedPerSecond);
    try {
      await Bun.sleep(setup.settleSeconds * 1000);
      await control(fake, "reset");
      const d0 = (await count(server)).delivered;
      const t0 = performance.now();
      await Bun.sleep(setup.windowSeconds * 1000);
      const after = await count(server);
      const seconds = (performance.now() - t0) / 1000;
      const stats = await fakeStats(fake);
      const notes: string[] = [];
      if (after.count === 0) notes.push("queue ran empty: the feeder was slower than forwarding");
      return { pacing, perSecond: (after.delivered - d0) / seconds, p50Ms: stats.p50_ms, p99Ms: stats.p99_ms, maxInFlight: stats.max_in_flight, notes };
    } finally {
      await feeder.stop();
    }
  } finally {
    if (cyclops) await cyclops.stop();
    await fake.stop();
  }
}

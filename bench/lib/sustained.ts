/**
 * What users get under load: ingest and forwarding at once. The server under test (cyclops, or
 * the relay baseline bench/relay.ts) on core 0; wrk (16 connections, distinct events) and a fake
 * Sentry that answers at once (bench/fake-upstream.ts) on core 1. After an unmeasured warm-up
 * round and a pause for the queue to empty, one measured round gives accepted/s (2xx answers),
 * delivered/s (what the fake Sentry received, counted on its side) and the queue's growth.
 * cyclops runs with its default config (queue bounds, pacing) apart from the upstream URL, the
 * keys and SHUTDOWN_TIMEOUT 0; with `projects` > 1 every project has its own key and wrk picks
 * one at random per request.
 *
 * Also the forwarding-CPU floor: bench/fetch-loop.ts, a bare fetch loop on core 0 against the
 * same fake, at the in-flight counts cyclops's forwarder uses.
 */
import { BUN, count, LOAD_CORE, PUBLIC_KEY, SERVER_CORE, startCyclops, startFakeUpstream, type Server } from "./servers.ts";
import { spawnChild, stopChild, run } from "./proc.ts";
import type { Payloads } from "./payloads.ts";
import { newSeed } from "./payloads.ts";
import { measureWrk, warmUp } from "./wrk.ts";
import { explain } from "./ingest.ts";

export interface SustainedSetup {
  conns: number;
  warmSeconds: number;
  measureSeconds: number;
}

export interface SustainedResult {
  target: "relay" | "cyclops";
  projects: number;
  seconds: number;
  acceptedPerSecond: number;
  deliveredPerSecond: number;
  /** Items queued at the end of the measured round minus at its start, per second. */
  queueGrowthPerSecond: number;
  queuedAtEnd: number;
  /** Server CPU use over the round, in cores. */
  serverCores: number;
  /** Sentry's most requests in flight during the round. */
  upstreamMaxInFlight: number;
  notes: string[];
}

export const fakeStats = async (fake: Server) => (await (await fetch(`${fake.url}/__stats`)).json()) as { count: number; max_in_flight: number };

async function startRelay(upstream: string): Promise<Server> {
  const child = spawnChild("relay", ["taskset", "-c", SERVER_CORE, BUN, "bench/relay.ts", "--port", "0", "--upstream", upstream]);
  const port = Number(await child.waitFor(/\(port (\d+)\)/, 15_000));
  return { child, port, url: `http://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

const keyOf = (project: number) => project.toString(16).padStart(32, "0");

export function cyclopsConfig(upstream: string, projects: number): Record<string, unknown> {
  const keys = projects === 1 ? [[1, PUBLIC_KEY, null]] : Array.from({ length: projects }, (_, i) => [i + 1, keyOf(i + 1), null]);
  return { SENTRY_BASE_URL: upstream, PROJECT_KEYS: keys, CLIENT_REPORTS: false, SHUTDOWN_TIMEOUT: 0 };
}

async function waitEmpty(server: Server, maxMs: number): Promise<number> {
  const deadline = performance.now() + maxMs;
  let c = await count(server);
  while (c.count > 0 && performance.now() < deadline) {
    await Bun.sleep(50);
    c = await count(server);
  }
  return c.count;
}

export async function sustainedRun(target: "relay" | "cyclops", p: Payloads, setup: SustainedSetup, projects = 1): Promise<SustainedResult> {
  const fake = await startFakeUpstream(0, 0, LOAD_CORE);
  let server: Server | null = null;
  try {
    server = target === "relay" ? await startRelay(fake.url) : await startCyclops(cyclopsConfig(fake.url, projects));
    const script = projects === 1 ? "store-distinct.lua" : "store-projects.lua";
    const env = { BENCH_PATH: "/api/1/store/", BENCH_KEY: PUBLIC_KEY, BENCH_TEMPLATE: p.eventTemplateFile, BENCH_PROJECTS: String(projects), BENCH_SEED: newSeed() };
    await warmUp(server, { script, conns: setup.conns, seconds: setup.warmSeconds, env });
    const notes: string[] = [];
    const leftAfterWarm = await waitEmpty(server, 20_000);
    if (leftAfterWarm > 0) notes.push(`${leftAfterWarm} still queued 20 s after the warm-up`);
    const before = await count(server);
    const f0 = await fakeStats(fake);
    const m = await measureWrk(server, { script, conns: setup.conns, seconds: setup.measureSeconds, env: { ...env, BENCH_SEED: newSeed() } });
    const f1 = await fakeStats(fake);
    const after = await count(server);
    // wrk's own clock: its wall time also holds building its requests (bench/wrk/common.lua), when
    // nothing is sent or delivered, which would dilute delivered/s against accepted/s.
    const seconds = m.seconds;
    if (m.non2xx > 0) notes.push(`${m.non2xx} non-2xx answers`);
    if (m.socketErrors > 0) notes.push(`${m.socketErrors} socket errors`);
    return {
      target,
      projects,
      seconds,
      acceptedPerSecond: (m.requests - m.non2xx) / m.seconds,
      deliveredPerSecond: (f1.count - f0.count) / seconds,
      queueGrowthPerSecond: (after.count - before.count) / seconds,
      queuedAtEnd: after.count,
      serverCores: m.serverCores,
      upstreamMaxInFlight: f1.max_in_flight,
      notes,
    };
  } catch (e) {
    throw explain(e, server);
  } finally {
    if (server) await server.stop();
    await fake.stop();
  }
}

export interface FetchLoopResult {
  inFlight: number;
  requests: number;
  cpuUsPerRequest: number;
}

/** bench/fetch-loop.ts on core 0 against a fresh fake Sentry on core 1. */
export async function fetchLoop(inFlight: number, requests: number, bodyFile: string): Promise<FetchLoopResult> {
  const fake = await startFakeUpstream(0, 0, LOAD_CORE);
  try {
    const r = await run([
      "taskset",
      "-c",
      SERVER_CORE,
      BUN,
      "bench/fetch-loop.ts",
      "--upstream",
      fake.url,
      "--requests",
      String(requests),
      "--in-flight",
      String(inFlight),
      "--body",
      bodyFile,
    ]);
    const line = r.stdout.split("\n").find((l) => l.startsWith("FETCH_LOOP "));
    if (r.code !== 0 || !line) throw new Error(`fetch loop failed (exit ${r.code}): ${r.stderr.trim().slice(-300)}`);
    const doc = JSON.parse(line.slice("FETCH_LOOP ".length)) as { requests: number; cpuUsPerRequest: number };
    return { inFlight, requests: doc.requests, cpuUsPerRequest: doc.cpuUsPerRequest };
  } finally {
    await fake.stop();
  }
}

/** One round: the relay and cyclops back to back, then cyclops with many projects. */
export interface SustainedRound {
  relay: SustainedResult | { failed: string };
  cyclops: SustainedResult | { failed: string };
  projects?: SustainedResult | { failed: string };
}

export interface DeliveryResults {
  setup: SustainedSetup & { projects: number };
  rounds: SustainedRound[];
  fetchLoops: Array<FetchLoopResult | { failed: string; inFlight: number }>;
}

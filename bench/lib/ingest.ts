/**
 * The wrk-driven scenarios: the baseline and cyclops's ingest paths (store, flood, envelope,
 * gzip, SQLite spool, Redis). Every run starts a fresh server, warms it with an unmeasured wrk
 * round, measures one round, checks what /count says happened, and stops the server; a run that
 * others disturbed is repeated.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Payloads } from "./payloads.ts";
import { newSeed } from "./payloads.ts";
import { baseConfig, benchTempDir, closedPort, count, PUBLIC_KEY, startBaseline, startCyclops, startRedis, type Server } from "./servers.ts";
import { measureWrk, warmUp, type Measurement } from "./wrk.ts";

export interface RunSetup {
  config: Record<string, unknown>;
  cleanup(): Promise<void>;
  /** Pids of other processes under test (redis-server), whose CPU is not "others". */
  companions?: number[];
}

export interface WrkScenario {
  id: string;
  title: string;
  /** One paragraph for BENCHMARKS.md: what is sent and what cyclops does with it. */
  what: string;
  target: "baseline" | "cyclops";
  /** Extra environment for the baseline server. */
  baselineEnv?: Record<string, string>;
  /** Another yardstick script in place of bench/baseline.ts (bench/floor.ts). */
  baselineScript?: string;
  script: string;
  env(p: Payloads): Record<string, string>;
  /** Config (and cleanup) for one run; default: baseConfig({}). */
  setup?(): Promise<RunSetup>;
  /** What /count must show: every request processed, or (flood) most ignored. */
  expect: "processed" | "ignored" | "none";
}

export interface Durations {
  warmSeconds: number;
  measureSeconds: number;
  runs: number;
}

export interface RunOutcome extends Measurement {
  /** /count deltas over the measured round (cyclops only). */
  processed: number | null;
  ignored: number | null;
  disturbed: boolean;
  notes: string[];
}

const STORE = (p: Payloads) => ({ BENCH_PATH: "/api/1/store/", BENCH_KEY: PUBLIC_KEY, BENCH_TEMPLATE: p.eventTemplateFile });
const upstreamNowhere = () => `http://127.0.0.1:${closedPort()}`;
let runSeq = 0;

function plain(overrides: Record<string, unknown> = {}): () => Promise<RunSetup> {
  return async () => ({ config: baseConfig({ SENTRY_BASE_URL: upstreamNowhere(), ...overrides }), cleanup: async () => {} });
}

export const SCENARIOS: WrkScenario[] = [
  {
    id: "baseline",
    title: "Baseline (bench/baseline.ts)",
    what: 'Minimal Bun.serve: read body, JSON.parse, keep every body (nothing drains, as in the queue of cyclops), answer {"id"}. Same requests as the memory ingest.',
    target: "baseline",
    script: "store-distinct.lua",
    env: STORE,
    expect: "none",
  },
  {
    id: "ingest-memory",
    title: "Ingest, distinct events, memory storage (the main figure)",
    what: "POST /api/1/store/ with X-Sentry-Auth; every request a distinct error (own event_id, message and in-app function), so all are authenticated, grouped, counted, queued. STORAGE memory, memory flood counters, upstream unreachable so nothing drains.",
    target: "cyclops",
    script: "store-distinct.lua",
    env: STORE,
    setup: plain(),
    expect: "processed",
  },
  {
    id: "flood",
    title: "Flood: one error repeated past MAX_CACHE_USES",
    what: "The same event over and over; past MAX_CACHE_USES (10) per URL_CACHE_EXPIRATION (1 s) it is answered and dropped (counted as ignored).",
    target: "cyclops",
    script: "flood.lua",
    env: STORE,
    setup: plain(),
    expect: "ignored",
  },
  {
    id: "baseline-kept-memory",
    title: "Baseline with cyclops's allocator setting (reference only)",
    what: "bench/baseline.ts started with MIMALLOC_PURGE_DELAY=-1, the setting `cyclops serve` restarts itself with (src/cli/allocator.ts: freed pages are kept instead of given back to the OS, since re-touching one costs a 13–15 µs fault on this VM). No bar uses it; it shows what the same setting gives a bare server, so the ratio against the default baseline is not mistaken for like-for-like.",
    target: "baseline",
    baselineEnv: { MIMALLOC_PURGE_DELAY: "-1" },
    script: "store-distinct.lua",
    env: STORE,
    expect: "none",
  },
  {
    id: "floor",
    title: "Floor: a minimal gateway with cyclops's unavoidable work (reference only)",
    what: "bench/floor.ts: the baseline plus only what a gateway with cyclops's features cannot skip per report, each done the cheapest way found: the route and project from the URL, the headers that decide how to read the report, the key looked up by its header text, the client's address (one getpeername, as it is forwarded to Sentry), a strict UTF-8 decode, the grouping hash (src/protocol/grouping.ts) counted in a Map, the body copied into slabs it keeps, and the answer headers SDKs and the original's scripts read. No config, stats, metrics, spike protection, budget or error paths. No bar uses it; its ratio to the baseline shows how near any such gateway can come on this runtime.",
    target: "baseline",
    baselineScript: "bench/floor.ts",
    script: "store-distinct.lua",
    env: STORE,
    expect: "none",
  },
  {
    id: "envelope",
    title: "Envelope ingest (modern SDK envelope with an event item)",
    what: "POST /api/1/envelope/ (Content-Type application/x-sentry-envelope): header with event_id, sent_at, sdk, trace; one event item with its length; distinct events.",
    target: "cyclops",
    script: "envelope.lua",
    env: (p) => ({ ...STORE(p), BENCH_PATH: "/api/1/envelope/", BENCH_CTYPE: "application/x-sentry-envelope", BENCH_ENVELOPE_HEADER: p.envelopeHeaderFile }),
    setup: plain(),
    expect: "processed",
  },
  {
    id: "gzip",
    title: "gzip-encoded store bodies",
    what: "POST /api/1/store/ with Content-Encoding: gzip; precompressed distinct events cycled in turn (few enough repeats per second that the flood cut never triggers).",
    target: "cyclops",
    script: "store-gzip.lua",
    env: (p) => ({ ...STORE(p), BENCH_GZIP_FILE: p.gzipFile }),
    setup: plain(),
    expect: "processed",
  },
  {
    id: "ingest-sqlite",
    title: "Ingest, distinct events, SQLite spool",
    what: "As the memory ingest, with STORAGE sqlite (a fresh SQLITE_PATH in a temp dir per run).",
    target: "cyclops",
    script: "store-distinct.lua",
    env: STORE,
    setup: async () => {
      const path = join(benchTempDir(), `spool-${process.pid}-${++runSeq}.sqlite`);
      return {
        config: baseConfig({ SENTRY_BASE_URL: upstreamNowhere(), STORAGE: "sqlite", SQLITE_PATH: path }),
        cleanup: async () => {
          for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(path + suffix, { force: true });
        },
      };
    },
    expect: "processed",
  },
  {
    id: "ingest-redis",
    title: "Ingest, distinct events, Redis storage + Redis flood counters",
    what: "As the memory ingest, with STORAGE redis and CACHE_IMPLEMENTATION_CLASS redis. Each run gets a redis-server of its own (bench/lib/servers.ts startRedis), pinned to the load core beside wrk so that cyclops keeps its core as in every other scenario (unpinned, the scheduler often woke Redis on the server's core), persisting as .ci/services.sh configures the project's Redis (AOF, fsync every second) in a fresh directory. The reports of one event-loop turn share one script run (count-push-batch.lua: flood counts and pushes), their bodies zstd-compressed (REDIS_COMPRESSION's default). Redis's CPU, and that of any AOF rewrite it forks once reaped, is part of the system under test, not counted as others; note that Redis and wrk share the load core.",
    target: "cyclops",
    script: "store-distinct.lua",
    env: STORE,
    setup: async () => {
      const redis = await startRedis();
      return {
        config: baseConfig({ SENTRY_BASE_URL: upstreamNowhere(), STORAGE: "redis", CACHE_IMPLEMENTATION_CLASS: "redis", REDIS_PORT: redis.port }),
        cleanup: () => redis.stop(),
        companions: [redis.child.pid],
      };
    },
    expect: "processed",
  },
];

/** One fresh-server run of a scenario at `conns` connections. */
export async function runOnce(s: WrkScenario, p: Payloads, conns: number, d: Durations): Promise<RunOutcome> {
  const setup = s.target === "cyclops" ? await (s.setup ?? plain())() : null;
  let server: Server | null = null;
  try {
    server = s.target === "baseline" ? await startBaseline(s.baselineEnv, [], s.baselineScript) : await startCyclops(setup!.config);
    const env = { ...s.env(p), BENCH_SEED: newSeed() };
    await warmUp(server, { script: s.script, conns, seconds: d.warmSeconds, env });
    const before = s.target === "cyclops" ? await count(server) : null;
    const m = await measureWrk(server, { script: s.script, conns, seconds: d.measureSeconds, env: { ...env, BENCH_SEED: newSeed() }, companions: setup?.companions });
    const after = s.target === "cyclops" ? await count(server) : null;
    const processed = before && after ? after.processed - before.processed : null;
    const ignored = before && after ? after.ignored - before.ignored : null;
    const notes: string[] = [];
    if (m.non2xx > 0) notes.push(`${m.non2xx} non-2xx answers`);
    if (m.socketErrors > 0) notes.push(`${m.socketErrors} socket errors`);
    if (s.expect === "processed" && ignored !== null && ignored > 0) notes.push(`${ignored} dropped as flood`);
    if (s.expect === "processed" && processed !== null && processed < m.requests - conns) notes.push(`only ${processed} of ${m.requests} processed`);
    if (s.expect === "ignored" && ignored !== null && ignored < m.requests * 0.9) notes.push(`only ${ignored} of ${m.requests} dropped as flood`);
    return { ...m, processed, ignored, disturbed: false, notes };
  } catch (e) {
    throw explain(e, server);
  } finally {
    if (server) await server.stop();
    if (setup) await setup.cleanup().catch(() => {});
  }
}

/** Adds the server's last words when it died under us. */
export function explain(e: unknown, server: Server | null): Error {
  const err = e instanceof Error ? e : new Error(String(e));
  const p = server?.child.proc;
  if (p && (p.exitCode !== null || p.signalCode !== null)) {
    const lines = server!.child.stderrTail().trim().split("\n");
    const tail = (lines.filter((l) => /Error\b/.test(l) && !/^\s*at /.test(l)).pop() ?? lines.slice(-3).join(" | ")).trim().slice(-400);
    err.message = `${server!.child.name} exited (${p.signalCode ?? `code ${p.exitCode}`}) during the run: ${tail} [${err.message}]`;
  }
  return err;
}

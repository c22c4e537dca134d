/**
 * Starting the processes under test: cyclops (from source or the compiled binary), the baseline,
 * the fake upstream and a Redis of the bench's own, each pinned to a core with taskset, each
 * waited for until it answers.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnChild, stopChild, type Child } from "./proc.ts";

export const BUN = process.execPath;
/** Core the server under test runs on; the load generator gets the other one. */
export const SERVER_CORE = "0";
export const LOAD_CORE = "1";
export const PROJECT_ID = 1;
export const PUBLIC_KEY = "0123456789abcdef0123456789abcdef";

export interface Server {
  child: Child;
  port: number;
  url: string;
  stop(): Promise<void>;
}

const workDir = mkdtempSync(join(tmpdir(), "cyclops-bench-"));
export function benchTempDir(): string {
  return workDir;
}
export function removeBenchTempDir(): void {
  rmSync(workDir, { recursive: true, force: true });
}

let confSeq = 0;

/** What every cyclops under test shares; scenarios override the rest. */
export function baseConfig(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    PROJECT_KEYS: [[PROJECT_ID, PUBLIC_KEY, null]],
    // Nothing drains during ingest runs: the queue must not fill, so it is made large.
    MAX_QUEUE_ITEMS: 10_000_000,
    MAX_QUEUE_BYTES: 16 * 1024 ** 3,
    CLIENT_REPORTS: false,
    // A stop must not wait to drain a queue nothing can drain (memory storage keeps forwarding for
    // SHUTDOWN_TIMEOUT on SIGTERM).
    SHUTDOWN_TIMEOUT: 0,
    ...overrides,
  };
}

export interface CyclopsOptions {
  /** Path of the compiled binary; default: bun src/main.ts. */
  binary?: string;
  /** Extra arguments for bun before the script (e.g. --cpu-prof). */
  bunArgs?: string[];
  /** The entry script bun runs; default src/main.ts (another checkout's, to compare commits). */
  script?: string;
  core?: string;
  /** Extra environment (e.g. CYCLOPS_KEEP_FREED_MEMORY=0). */
  env?: Record<string, string>;
}

export async function startCyclops(config: Record<string, unknown>, opts: CyclopsOptions = {}): Promise<Server> {
  const conf = join(workDir, `conf-${process.pid}-${++confSeq}.json`);
  writeFileSync(conf, JSON.stringify(config, null, 2));
  const entry = opts.binary ? [opts.binary] : [BUN, ...(opts.bunArgs ?? []), opts.script ?? "src/main.ts"];
  const child = spawnChild("cyclops", ["taskset", "-c", opts.core ?? SERVER_CORE, ...entry, "serve", "-c", conf, "-p", "0", "-b", "127.0.0.1"], opts.env);
  return ready(child, 30_000, "/healthcheck");
}

export async function startBaseline(env: Record<string, string> = {}, bunArgs: string[] = [], script = "bench/baseline.ts"): Promise<Server> {
  const child = spawnChild("baseline", ["taskset", "-c", SERVER_CORE, BUN, ...bunArgs, script, "--port", "0"], env);
  return ready(child, 15_000, null);
}

export async function startFakeUpstream(baseMs: number, perInFlightMs: number, core = LOAD_CORE): Promise<Server> {
  const child = spawnChild("fake-upstream", [
    "taskset",
    "-c",
    core,
    BUN,
    "bench/fake-upstream.ts",
    "--port",
    "0",
    "--base-ms",
    String(baseMs),
    "--per-inflight-ms",
    String(perInFlightMs),
  ]);
  return ready(child, 15_000, null);
}

/**
 * A redis-server for one Redis run, on the load core: on this two-core machine the scheduler
 * otherwise often woke it on the server's core (sampled: 13 of 20), so the run measured cyclops
 * and Redis sharing one core. It persists as .ci/services.sh configures the project's Redis
 * (AOF, fsync every second), in a fresh directory, so no run inherits an earlier run's AOF to
 * rewrite; the price is a fresh process whose memory is all first-touch.
 */
export async function startRedis(): Promise<Server> {
  const binary = Bun.which("redis-server");
  if (binary === null) throw new Error("redis-server not found: install Debian's redis-server (bash .ci/services.sh does)");
  const dir = mkdtempSync(join(workDir, "redis-"));
  const port = closedPort();
  // Its log goes to a file: redis-server cannot open the spawned process's stderr (a socket) by name.
  const log = join(dir, "redis.log");
  const child = spawnChild("redis-server", [
    "taskset",
    "-c",
    LOAD_CORE,
    binary,
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--save",
    "",
    "--logfile",
    log,
    "--daemonize",
    "no",
  ]);
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = performance.now() + 10_000;
  const logText = () => (existsSync(log) ? readFileSync(log, "utf8") : "");
  while (!logText().includes("Ready to accept connections")) {
    if (performance.now() > deadline || child.proc.exitCode !== null) {
      const text = `${child.stderrTail()}${logText()}`.trim().slice(-600);
      await stop();
      throw new Error(`redis-server did not start: ${text}`);
    }
    await Bun.sleep(20);
  }
  return { child, port, url: `redis://127.0.0.1:${port}`, stop };
}

async function ready(child: Child, timeoutMs: number, healthPath: string | null): Promise<Server> {
  try {
    const port = Number(await child.waitFor(/\(port (\d+)\)/, timeoutMs));
    const url = `http://127.0.0.1:${port}`;
    if (healthPath) await waitHealthy(url + healthPath, timeoutMs, child);
    return { child, port, url, stop: () => stopChild(child) };
  } catch (e) {
    await stopChild(child, 1000);
    throw e;
  }
}

async function waitHealthy(url: string, timeoutMs: number, child: Child): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = "";
  while (performance.now() < deadline) {
    try {
      const res = await fetch(url);
      last = `${res.status} ${await res.text()}`;
      if (res.ok) return;
    } catch (e) {
      last = String(e);
    }
    await Bun.sleep(20);
  }
  throw new Error(`${child.name} not healthy within ${timeoutMs} ms (${last}); stderr: ${child.stderrTail().trim().slice(-400)}`);
}

/** A TCP port nobody listens on (bound then released): forwarding to it fails at once. */
export function closedPort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export interface CountDoc {
  count: number;
  processed: number;
  ignored: number;
  delivered: number;
}

export async function count(server: Server): Promise<CountDoc> {
  const res = await fetch(`${server.url}/count`);
  if (!res.ok) throw new Error(`/count answered ${res.status}`);
  return (await res.json()) as CountDoc;
}

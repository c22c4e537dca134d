/**
 * One measured wrk round against a running server: wrk pinned to the load core, the server's CPU
 * time from /proc/PID/stat, and the machine's busyness from /proc/stat, so a round disturbed by
 * someone else's work (other processes on either core) can be recognised and repeated.
 */
import { resolve } from "node:path";
import { cpuBusySeconds, processCpuSeconds, processMinorFaults } from "./proc.ts";
import { LOAD_CORE, type Server } from "./servers.ts";

export const WRK = "/usr/bin/wrk";
const LUA_DIR = resolve("bench/wrk");

export interface WrkOptions {
  /** File name in bench/wrk/. */
  script: string;
  conns: number;
  seconds: number;
  env: Record<string, string>;
  /**
   * Processes that are part of the system under test besides the server (redis-server in the
   * Redis scenario): their CPU is not counted as disturbance by others.
   */
  companions?: number[];
}

interface WrkSummary {
  requests: number;
  duration_us: number;
  p50_us: number;
  p99_us: number;
  err_connect: number;
  err_read: number;
  err_write: number;
  err_status: number;
  err_timeout: number;
}

export interface Measurement {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU (user + system) per request, µs. */
  cpuUsPerReq: number;
  /** Minor page faults of the server per request: on this VM each costs 13–15 µs. */
  faultsPerReq: number;
  /** Server CPU use over the round, in cores (1.0 = core 0 saturated). */
  serverCores: number;
  /** Answers that were not 2xx/3xx. */
  non2xx: number;
  socketErrors: number;
  /** CPU used on the machine by anything but the server and wrk, in cores. */
  foreignCores: number;
}

export async function wrkAvailable(): Promise<boolean> {
  return Bun.file(WRK).exists();
}

async function runWrk(url: string, opts: WrkOptions): Promise<{ summary: WrkSummary; cpuSeconds: number }> {
  const proc = Bun.spawn(["taskset", "-c", LOAD_CORE, WRK, "-t1", `-c${opts.conns}`, `-d${opts.seconds}s`, "--timeout", "5s", "-s", `${LUA_DIR}/${opts.script}`, url], {
    env: { ...process.env, BENCH_LUA_DIR: LUA_DIR, ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const killer = setTimeout(() => proc.kill("SIGKILL"), (opts.seconds + 30) * 1000);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(killer);
  const line = out.split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}): ${(err || out).trim().slice(-500)}`);
  const usage = proc.resourceUsage();
  const cpuSeconds = usage ? Number(usage.cpuTime.total) / 1e6 : 0;
  return { summary: JSON.parse(line.slice("BENCH_JSON ".length)) as WrkSummary, cpuSeconds };
}

/** Runs wrk against `server` and measures the round. */
export async function measureWrk(server: Server, opts: WrkOptions): Promise<Measurement> {
  const busy0 = cpuBusySeconds();
  const srv0 = processCpuSeconds(server.child.pid);
  const faults0 = processMinorFaults(server.child.pid);
  const companions = opts.companions ?? [];
  // With the children they reaped: redis-server forks to rewrite its AOF, and that is its work too.
  const comp0 = companions.reduce((a, pid) => a + processCpuSeconds(pid, true), 0);
  const t0 = performance.now();
  const { summary: s, cpuSeconds: wrkCpu } = await runWrk(server.url, opts);
  const elapsed = (performance.now() - t0) / 1000;
  const srv = processCpuSeconds(server.child.pid) - srv0;
  const faults = processMinorFaults(server.child.pid) - faults0;
  const companionCpu = companions.reduce((a, pid) => a + processCpuSeconds(pid, true), 0) - comp0;
  const busy1 = cpuBusySeconds();
  let busy = 0;
  for (let i = 0; i < busy1.length; i++) busy += (busy1[i] ?? 0) - (busy0[i] ?? 0);
  const seconds = s.duration_us / 1e6;
  return {
    requests: s.requests,
    seconds,
    rps: s.requests / seconds,
    p50Ms: s.p50_us / 1000,
    p99Ms: s.p99_us / 1000,
    cpuUsPerReq: s.requests > 0 ? (srv * 1e6) / s.requests : 0,
    faultsPerReq: s.requests > 0 ? faults / s.requests : 0,
    serverCores: srv / elapsed,
    non2xx: s.err_status,
    socketErrors: s.err_connect + s.err_read + s.err_write + s.err_timeout,
    foreignCores: Math.max(0, (busy - srv - wrkCpu - companionCpu) / elapsed),
  };
}

/** A short unmeasured round: JIT warm-up, heap growth, connection setup. */
export async function warmUp(server: Server, opts: WrkOptions): Promise<void> {
  await runWrk(server.url, opts);
}

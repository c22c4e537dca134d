/**
 * Child processes the benchmark starts, and what /proc tells about them and the machine.
 * Every child is tracked, so run.ts can stop all of them on success, error or Ctrl-C; nothing
 * here ever signals a process it did not start.
 */
import type { Subprocess } from "bun";
import { readFileSync } from "node:fs";

export interface Child {
  name: string;
  proc: Subprocess<"ignore", "ignore" | "pipe", "pipe">;
  pid: number;
  /** Last few KB the child wrote on stderr, for error messages. */
  stderrTail(): string;
  /** Resolves with the first capture of `pattern` found on stderr. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>;
}

const live = new Set<Child>();

export function spawnChild(name: string, cmd: string[], env: Record<string, string> = {}): Child {
  const proc = Bun.spawn(cmd, {
    cwd: process.cwd(),
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  let tail = "";
  const waiters: Array<{ pattern: RegExp; resolve: (s: string) => void }> = [];
  const decoder = new TextDecoder();
  (async () => {
    for await (const chunk of proc.stderr) {
      tail = (tail + decoder.decode(chunk)).slice(-4096);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const m = waiters[i]!.pattern.exec(tail);
        if (m) {
          waiters[i]!.resolve(m[1] ?? m[0]);
          waiters.splice(i, 1);
        }
      }
    }
  })().catch(() => {});
  const child: Child = {
    name,
    proc,
    pid: proc.pid,
    stderrTail: () => tail,
    waitFor(pattern, timeoutMs) {
      const m = pattern.exec(tail);
      if (m) return Promise.resolve(m[1] ?? m[0]);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no ${pattern} within ${timeoutMs} ms; stderr: ${tail.trim().slice(-600)}`)), timeoutMs);
        waiters.push({ pattern, resolve: (s) => (clearTimeout(timer), resolve(s)) });
        proc.exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (code ${code}) before ${pattern}; stderr: ${tail.trim().slice(-600)}`));
        });
      });
    },
  };
  live.add(child);
  proc.exited.then(() => live.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone. */
export async function stopChild(child: Child, graceMs = 5000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill("SIGTERM");
  const timer = setTimeout(() => child.proc.kill("SIGKILL"), graceMs);
  await child.proc.exited;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => stopChild(c, 2000)));
}

/** Last resort on process exit: kill synchronously whatever is still running. */
export function killAllNow(): void {
  for (const c of live) {
    try {
      c.proc.kill("SIGKILL");
    } catch {}
  }
}

/** Runs a command to completion; stdout as text. */
export async function run(cmd: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(cmd, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

export const CLK_TCK = (() => {
  const r = Bun.spawnSync(["getconf", "CLK_TCK"]);
  const n = Number(r.stdout.toString().trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** CPU time of a process (user + system) in seconds. */
export function processCpuSeconds(pid: number, withReapedChildren = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const own = Number(fields[11]) + Number(fields[12]);
  return (withReapedChildren ? own + Number(fields[13]) + Number(fields[14]) : own) / CLK_TCK;
}

/** Minor page faults of the process so far (/proc/PID/stat field 10). */
export function processMinorFaults(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
}

export function vmRssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** Busy seconds (user, nice, system, steal) per CPU since boot, from /proc/stat. */
export function cpuBusySeconds(): number[] {
  const out: number[] = [];
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    // irq/softirq are left out: loopback traffic between wrk and the server is processed there
    // (~0.2 cores at 20k req/s) and would read as someone else's load.
    const [user, nice, system, , , , , steal] = m[2]!.split(/\s+/).map(Number);
    out[Number(m[1])] = ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (steal ?? 0)) / CLK_TCK;
  }
  return out;
}

export function loadAvg(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

export function cpuModel(): string {
  const m = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"));
  return m?.[1]?.trim() ?? "unknown";
}

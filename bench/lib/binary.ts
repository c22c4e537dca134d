/**
 * The compiled binary: its size, and the time from exec to the first 200 on /healthcheck, polled
 * every millisecond. (hyperfine times a command to its exit; here the end is an HTTP answer from a
 * server that keeps running, and a polling client's own start-up would dominate, so the loop is
 * ours.) The same is measured for `bun src/main.ts` for comparison.
 */
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, spawnChild, stopChild } from "./proc.ts";
import { baseConfig, benchTempDir, BUN, closedPort, SERVER_CORE } from "./servers.ts";

export const BINARY = "dist/cyclops";

export interface StartupResult {
  what: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
  runs: number;
}

export async function ensureBinary(log: (s: string) => void): Promise<{ built: boolean; sizeMb: number; mtime: Date }> {
  // Always from the current source: a dist/cyclops left from an older commit would time old code.
  log("  building dist/cyclops from the current source (npm run build)");
  const r = await run([BUN, "build.ts"]);
  if (r.code !== 0) throw new Error(`build failed: ${(r.stderr || r.stdout).trim().slice(-400)}`);
  const st = statSync(BINARY);
  return { built: true, sizeMb: st.size / 1024 / 1024, mtime: st.mtime };
}

async function startOnce(cmd: string[], conf: string): Promise<number> {
  const port = closedPort();
  const t0 = performance.now();
  const child = spawnChild("cyclops-start", ["taskset", "-c", SERVER_CORE, ...cmd, "serve", "-c", conf, "-p", String(port), "-b", "127.0.0.1"]);
  try {
    const deadline = t0 + 20_000;
    while (performance.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthcheck`);
        await res.arrayBuffer();
        if (res.ok) return performance.now() - t0;
      } catch {}
      if (child.proc.exitCode !== null) throw new Error(`exited early: ${child.stderrTail().trim().slice(-300)}`);
      await Bun.sleep(1);
    }
    throw new Error("no healthcheck answer within 20 s");
  } finally {
    await stopChild(child, 2000);
  }
}

export async function startupTime(what: string, cmd: string[], runs: number): Promise<StartupResult> {
  const conf = join(benchTempDir(), "startup.json");
  writeFileSync(conf, JSON.stringify(baseConfig({ SENTRY_BASE_URL: `http://127.0.0.1:${closedPort()}` })));
  await startOnce(cmd, conf); // page cache warm-up, not counted
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await startOnce(cmd, conf));
  times.sort((a, b) => a - b);
  return { what, medianMs: times[Math.floor((times.length - 1) / 2)]!, minMs: times[0]!, maxMs: times[times.length - 1]!, runs };
}

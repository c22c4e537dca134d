/**
 * Runs cyclops for a test on a random port with a temp config, either in-process (through
 * startGateway, the code `serve` runs) or as a separate process: the compiled binary when
 * CYCLOPS_BINARY names it (the end-to-end run), else `bun src/main.ts`. The same HTTP suites run
 * against every mode.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { startGateway, type Gateway } from "../../src/gateway/gateway.ts";

export type GatewayMode = "in-process" | "process";

export interface TestGateway {
  url: string;
  port: number;
  mode: GatewayMode;
  /** In-process only: the running gateway's internals. */
  gateway?: Gateway;
  /** Process only: the child and what it wrote to stderr so far. */
  proc?: ReturnType<typeof Bun.spawn>;
  stderr(): string;
  /** Graceful stop (SIGTERM for a process). */
  stop(): Promise<void>;
  /** Process only: kill -9. */
  kill(): void;
}

const ROOT = resolve(import.meta.dir, "../..");

/** The command that runs cyclops as a process: the binary under test, or the sources. */
export function cyclopsCommand(): string[] {
  const binary = process.env.CYCLOPS_BINARY;
  return binary ? [resolve(ROOT, binary)] : [process.execPath, join(ROOT, "src/main.ts")];
}

export const defaultMode = (): GatewayMode => (process.env.CYCLOPS_BINARY ? "process" : "in-process");

export function tempDir(prefix = "cyclops-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startTestGateway(options: Partial<Config> = {}, mode: GatewayMode = defaultMode(), extraArgs: string[] = []): Promise<TestGateway> {
  const settings: Partial<Config> = { BIND: "127.0.0.1", PORT: 0, SENTRY_BASE_URL: "http://127.0.0.1:1", CLIENT_REPORTS: false, SHUTDOWN_TIMEOUT: 0.2, ...options };
  if (mode === "in-process") {
    const { config } = loadConfig({ env: {}, flags: settings });
    const gateway = await startGateway(config);
    return {
      url: `http://127.0.0.1:${gateway.port}`,
      port: gateway.port,
      mode,
      gateway,
      stderr: () => "",
      stop: () => gateway.stop(),
      kill: () => {
        throw new Error("kill() needs a process gateway");
      },
    };
  }
  const dir = tempDir();
  const file = join(dir, "cyclops.json");
  writeFileSync(file, JSON.stringify(settings, null, 2));
  return spawnGateway(["serve", "-c", file, "-vv", ...extraArgs]);
}

/** Spawns `cyclops ARGS` and waits for its "listening" line. */
export async function spawnGateway(args: string[], env: Record<string, string> = {}): Promise<TestGateway> {
  const proc = Bun.spawn([...cyclopsCommand(), ...args], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...env },
  });
  let stderr = "";
  const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`cyclops did not start within 20 s:\n${stderr}`)), 20_000);
    (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        stderr += decoder.decode(value);
        const m = /cyclops listening on \S+ \(port (\d+)\)/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolvePort(Number(m[1]));
        }
      }
      clearTimeout(timer);
      reject(new Error(`cyclops exited (code ${await proc.exited}) before listening:\n${stderr}`));
    })().catch(reject);
  });
  // keep draining stderr so the child never blocks on a full pipe
  (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) break;
      stderr += decoder.decode(value);
    }
  })();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    mode: "process",
    proc,
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      await proc.exited;
    },
    kill() {
      proc.kill("SIGKILL");
    },
  };
}

/** Runs `cyclops ARGS` to completion and returns its exit code and output. */
export async function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([...cyclopsCommand(), ...args], {
    cwd: opts.cwd ?? ROOT,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...opts.env },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/**
 * The compiled binary on its own: copied alone into an empty folder (no node_modules, no
 * sources), `init > c.json && serve -c c.json` serves, `count` prints the instance, `--help` lists
 * the subcommands. Runs in .ci/run's end-to-end step, where CYCLOPS_BINARY names dist/cyclops.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { tempDir } from "../helpers/gateway.ts";

const binary = process.env.CYCLOPS_BINARY ? resolve(import.meta.dir, "../..", process.env.CYCLOPS_BINARY) : null;
if (!binary) console.warn("[skip] binary tests: set CYCLOPS_BINARY (npm run build && npm run test:e2e)");

async function run(dir: string, args: string[]) {
  const proc = Bun.spawn(["./cyclops", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin" } });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

describe.skipIf(!binary)("the binary alone in an empty folder", () => {
  const dir = tempDir("cyclops-alone-");
  let server: ReturnType<typeof Bun.spawn> | null = null;
  afterAll(async () => {
    server?.kill("SIGTERM");
    await server?.exited;
  });

  test("init, serve, count and --help with nothing else present", async () => {
    copyFileSync(binary!, join(dir, "cyclops"));
    const init = await run(dir, ["init"]);
    expect(init.code).toBe(0);
    writeFileSync(join(dir, "c.json"), init.stdout);

    server = Bun.spawn(["./cyclops", "serve", "-c", "c.json", "-p", "0", "-b", "127.0.0.1"], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin" } });
    const reader = (server.stderr as ReadableStream<Uint8Array>).getReader();
    let err = "";
    let port = 0;
    const deadline = Date.now() + 15_000;
    while (!port && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      err += new TextDecoder().decode(value);
      port = Number(/\(port (\d+)\)/.exec(err)?.[1] ?? 0);
    }
    expect(port).toBeGreaterThan(0);
    const health = await fetch(`http://127.0.0.1:${port}/healthcheck`);
    expect(await health.text()).toBe("WORKING");

    const count = await run(dir, ["count", "localhost", String(port)]);
    expect(count.code).toBe(0);
    expect(count.stdout).toContain(`localhost:${port} has still 0 messages to process`);

    const help = await run(dir, ["--help"]);
    for (const c of ["serve", "init", "count"]) expect(help.stdout).toContain(c);
  });
});

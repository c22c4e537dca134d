/**
 * The CLI, in-process through main(argv) and as a process (the compiled binary under
 * CYCLOPS_BINARY in the end-to-end run, else the sources).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { runCli, spawnGateway, tempDir, type TestGateway } from "../helpers/gateway.ts";

async function inProcess(argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe("in-process main(argv)", () => {
  test("--help lists serve, init and count", async () => {
    const r = await inProcess(["--help"]);
    expect(r.code).toBe(0);
    for (const c of ["serve", "init", "count"]) expect(r.out).toContain(c);
  });

  test("help SUBCOMMAND", async () => {
    const r = await inProcess(["help", "serve"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("--conf");
  });

  test("--version", async () => {
    const r = await inProcess(["--version"]);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toMatch(/^\d+\.\d+\.\d+ \(commit [0-9a-f]{12}/);
  });

  test("unknown subcommand: one line, a hint, exit 2", async () => {
    const r = await inProcess(["serv"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown command 'serv'");
    expect(r.err).toContain("--help");
  });

  test("unknown flag: exit 2", async () => {
    const r = await inProcess(["serve", "--frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--frobnicate");
  });

  test.each([["abc"], ["70000"], ["-1"]])("bad port %s: exit 2 naming it", async (port) => {
    const r = await inProcess(["serve", "-p", port]);
    expect(r.code).toBe(2);
    expect(r.err.split("\n").filter(Boolean).length).toBeLessThanOrEqual(2);
    expect(r.err).toMatch(/port/i);
  });

  test("config errors: exit 2 with one line naming the option and the file", async () => {
    const dir = tempDir();
    const cases: Array<[string, string, string]> = [
      ["type.json", JSON.stringify({ MAX_CACHE_USES: "x" }), "MAX_CACHE_USES"],
      ["range.json", JSON.stringify({ IGNORE_PERCENTAGE: { "1": 150 } }), "IGNORE_PERCENTAGE"],
      ["unknown.json", JSON.stringify({ STORAGES: "memory" }), "did you mean STORAGE?"],
      ["bad.json", "{", "not valid JSON"],
    ];
    for (const [name, text, expected] of cases) {
      const file = join(dir, name);
      writeFileSync(file, text);
      const r = await inProcess(["serve", "-c", file]);
      expect(r.code).toBe(2);
      expect(r.err).toContain(expected);
      expect(r.err).toContain(file);
      expect(r.err.trim().split("\n")).toHaveLength(1);
    }
    const missing = await inProcess(["serve", "-c", join(dir, "missing.json")]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("cannot read");
  });

  test("init writes a file and refuses to overwrite without --force", async () => {
    const file = join(tempDir(), "c.json");
    expect((await inProcess(["init", file])).code).toBe(0);
    const first = readFileSync(file, "utf8");
    expect(JSON.parse(first).HEALTHCHECK_TEXT).toBe("WORKING");
    const again = await inProcess(["init", file]);
    expect(again.code).toBe(2);
    expect(again.err).toContain("--force");
    expect((await inProcess(["init", file, "--force"])).code).toBe(0);
  });

  test("count: bad ports are a usage error", async () => {
    const r = await inProcess(["count", "localhost", "abc"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("bad ports");
  });
});

describe("as a process", () => {
  const running: TestGateway[] = [];
  afterAll(async () => {
    await Promise.all(running.map((g) => g.stop()));
  });

  test("init | serve -c reads it back, and answers the healthcheck", async () => {
    const dir = tempDir();
    const init = await runCli(["init"], { cwd: dir });
    expect(init.code).toBe(0);
    const file = join(dir, "c.json");
    writeFileSync(file, init.stdout);
    const g = await spawnGateway(["serve", "-c", file, "-p", "0", "-b", "127.0.0.1"]);
    running.push(g);
    const res = await fetch(`${g.url}/healthcheck`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("WORKING");
  });

  test("precedence: file < environment < flag, through serve", async () => {
    const dir = tempDir();
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ HEALTHCHECK_TEXT: "FROM_FILE", BIND: "127.0.0.1", PORT: 1 }));
    const g1 = await spawnGateway(["serve", "-c", file, "-p", "0"]);
    running.push(g1);
    expect(await (await fetch(`${g1.url}/healthcheck`)).text()).toBe("FROM_FILE");
    const g2 = await spawnGateway(["serve", "-c", file, "-p", "0"], { CYCLOPS_HEALTHCHECK_TEXT: "FROM_ENV" });
    running.push(g2);
    expect(await (await fetch(`${g2.url}/healthcheck`)).text()).toBe("FROM_ENV");
    // the flag -p 0 beat the file's PORT 1 and the environment's
    const g3 = await spawnGateway(["serve", "-c", file, "-p", "0"], { CYCLOPS_PORT: "1" });
    running.push(g3);
    expect(g3.port).not.toBe(1);
  });

  test("bad config through the environment: exit 2, one line naming the variable", async () => {
    const r = await runCli(["serve", "-p", "0"], { env: { CYCLOPS_MAX_CACHE_USES: "lots" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("CYCLOPS_MAX_CACHE_USES");
    expect(r.stderr).not.toContain("    at ");
  });

  test("port in use: exit 2", async () => {
    const holder = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("x") });
    try {
      const r = await runCli(["serve", "-b", "127.0.0.1", "-p", String(holder.port)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("address already in use");
    } finally {
      holder.stop(true);
    }
  });

  test("count prints a running instance and the totals; a closed port is named, exit 1", async () => {
    const g = await spawnGateway(["serve", "-p", "0", "-b", "127.0.0.1"]);
    running.push(g);
    const ok = await runCli(["count", "localhost", String(g.port)]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`localhost:${g.port} has still 0 messages to process`);
    expect(ok.stdout).toContain("Total of 0 messages to send to sentry from the farm at localhost.");
    const closed = Bun.serve({ port: 0, fetch: () => new Response("") });
    const closedPort = closed.port;
    closed.stop(true);
    const bad = await runCli(["count", "http://localhost", `${g.port},${closedPort}`, "--json", "--timeout", "2"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`localhost:${closedPort}`);
    const doc = JSON.parse(bad.stdout);
    expect(doc.instances).toHaveLength(2);
    expect(doc.totals.missing).toEqual([`localhost:${closedPort}`]);
  });

  test("SIGTERM stops it with exit 0", async () => {
    const g = await spawnGateway(["serve", "-p", "0", "-b", "127.0.0.1"]);
    g.proc!.kill("SIGTERM");
    expect(await g.proc!.exited).toBe(0);
  });

  test("init refuses an existing file", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "c.json"), "{}");
    const r = await runCli(["init", "c.json"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(existsSync(join(dir, "c.json"))).toBe(true);
    expect(readFileSync(join(dir, "c.json"), "utf8")).toBe("{}");
  });
});

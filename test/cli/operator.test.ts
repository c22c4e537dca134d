/**
 * The operator kit as a new user meets it, as a process (the compiled binary in the end-to-end
 * run): init --dsn, check against a fake Sentry and a dead Redis, test-event through a running
 * gateway, and the one-line, exit-2 errors for bad environment values, a bad bind address and a
 * count that needs --token.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import { runCli, spawnGateway, tempDir, type TestGateway } from "../helpers/gateway.ts";

const KEY = "0123456789abcdef0123456789abcdef";
const KEY2 = "fedcba9876543210fedcba9876543210";

/** A port nothing listens on. */
function closedPort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = s.port!;
  s.stop(true);
  return port;
}

const lines = (text: string) => text.trim().split("\n").filter(Boolean);

describe("init --dsn", () => {
  test("a modern DSN: SENTRY_BASE_URL and [id, key, null]; next steps on stderr", async () => {
    const dir = tempDir();
    const r = await runCli(["init", "--dsn", `http://${KEY}@127.0.0.1:9000/5`, "c.json"], { cwd: dir });
    expect(r.code).toBe(0);
    const conf = JSON.parse(readFileSync(join(dir, "c.json"), "utf8"));
    expect(conf.SENTRY_BASE_URL).toBe("http://127.0.0.1:9000");
    expect(conf.PROJECT_KEYS).toEqual([[5, KEY, null]]);
    expect(conf["// keys"]).toBeUndefined();
    expect(r.stderr).toContain("cyclops check -c c.json");
    expect(r.stderr).toContain(`http://${KEY}@<gateway host>:9999/5`);
  });

  test("legacy DSNs with secrets, https, a path prefix, one per project", async () => {
    const r = await runCli(["init", "--dsn", `https://${KEY}:s3cret@sentry.example.com/sentry/7`, "--dsn", `https://${KEY2}@sentry.example.com/sentry/8`]);
    expect(r.code).toBe(0);
    const conf = JSON.parse(r.stdout);
    expect(conf.SENTRY_BASE_URL).toBe("https://sentry.example.com/sentry");
    expect(conf.PROJECT_KEYS).toEqual([
      [7, KEY, "s3cret"],
      [8, KEY2, null],
    ]);
  });

  test("without --dsn the template says how to get a key", async () => {
    const r = await runCli(["init"]);
    expect(JSON.parse(r.stdout)["// keys"]).toContain("Client Keys (DSN)");
    expect(r.stderr).toContain("--dsn");
  });

  test("a bad DSN or two Sentry servers: one line, exit 2, the secret hidden", async () => {
    const bad = await runCli(["init", "--dsn", `https://${KEY}:s3cret@sentry.example.com/notanumber`]);
    expect(bad.code).toBe(2);
    expect(lines(bad.stderr)).toHaveLength(1);
    expect(bad.stderr).toContain("is not a Sentry DSN");
    expect(bad.stderr).not.toContain("s3cret");
    const two = await runCli(["init", "--dsn", `https://${KEY}@a.example.com/1`, "--dsn", `https://${KEY2}@b.example.com/2`]);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain("two Sentry servers");
  });
});

describe("check, test-event", () => {
  let sentry: FakeSentry;
  const running: TestGateway[] = [];
  beforeAll(async () => {
    sentry = await startFakeSentry({ keys: { 5: [KEY] } });
  });
  afterAll(async () => {
    await Promise.all(running.map((g) => g.stop()));
    await sentry.stop();
  });

  async function configFor(extra: Record<string, unknown> = {}): Promise<string> {
    const dir = tempDir();
    const init = await runCli(["init", "--dsn", `http://${KEY}@127.0.0.1:${sentry.port}/5`, "c.json"], { cwd: dir });
    expect(init.code).toBe(0);
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), BIND: "127.0.0.1", PORT: 0, ...extra }));
    return file;
  }

  test("check passes init --dsn's config with Sentry up: one line per check, exit 0", async () => {
    const r = await runCli(["check", "-c", await configFor()]);
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out.map((l) => l.split(":")[0])).toEqual(["ok   config", "ok   keys", "ok   storage", "ok   sentry"]);
    expect(r.stdout).toContain("1 key from static");
  });

  test("check fails a config whose Redis is down, naming Redis; exit 1", async () => {
    const port = closedPort();
    const r = await runCli(["check", "-c", await configFor({ STORAGE: "redis", REDIS_PORT: port, REDIS_PASSWORD: "pw-not-shown" }), "--timeout", "2"]);
    expect(r.code).toBe(1);
    const redis = lines(r.stdout).find((l) => l.startsWith("FAIL redis"));
    expect(redis).toContain(`Redis at 127.0.0.1:${port}`);
    expect(r.stdout).toContain("ok   sentry");
    expect(r.stdout + r.stderr).not.toContain("pw-not-shown");
  });

  test("check fails when Sentry does not answer, and when there are no keys", async () => {
    const r = await runCli(["check", "-c", await configFor({ SENTRY_BASE_URL: `http://127.0.0.1:${closedPort()}`, PROJECT_KEYS: [] }), "--timeout", "2"]);
    expect(r.code).toBe(1);
    expect(lines(r.stdout).find((l) => l.startsWith("FAIL sentry"))).toBeDefined();
    expect(lines(r.stdout).find((l) => l.startsWith("FAIL keys"))).toContain("no project keys");
  });

  test("check --print: the effective config with origins, secrets redacted", async () => {
    const file = join(tempDir(), "c.json");
    writeFileSync(file, JSON.stringify({ SENTRY_BASE_URL: sentry.url, DB_PASS: "db-secret-value", PROJECT_KEYS: [[5, KEY, "legacy-secret"]] }));
    const r = await runCli(["check", "-c", file, "--print"], { env: { CYCLOPS_STATS_TOKEN: "token-secret-value" } });
    expect(r.stdout).not.toContain("db-secret-value");
    expect(r.stdout).not.toContain("legacy-secret");
    expect(r.stdout).not.toContain("token-secret-value");
    const row = (key: string) => lines(r.stdout).find((l) => l.startsWith(`${key} `)) ?? "";
    expect(row("STATS_TOKEN")).toContain('"***"  (env CYCLOPS_STATS_TOKEN)');
    expect(row("DB_PASS")).toContain(`"***"  (file ${file})`);
    expect(row("PROJECT_KEYS")).toContain(`[[5,"${KEY}","***"]]`);
    expect(row("MAX_CACHE_USES")).toContain("10  (default)");
  });

  test("check on a bad config: one line naming the option, exit 2", async () => {
    const r = await runCli(["check", "-c", await configFor({ STORAGE: "Sqlite" })]);
    expect(r.code).toBe(2);
    expect(lines(r.stdout)).toEqual([expect.stringContaining("must be one of memory, sqlite, redis")]);
  });

  test("test-event: one report through a running gateway, counted and delivered to Sentry", async () => {
    const file = await configFor();
    const g = await spawnGateway(["serve", "-c", file]);
    running.push(g);
    const before = sentry.received.length;
    const r = await runCli(["test-event", "-c", file, "--url", g.url]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const id = /event ([0-9a-f]{32})/.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    expect(r.stdout).toContain("delivered: /count shows 1 delivered (was 0)");
    const got = sentry.received.slice(before).find((x) => x.envelope?.headers.event_id === id);
    expect(got?.projectId).toBe(5);
    // check's probe of /api/0/ is a path the fake does not serve; nothing else may be off
    expect(sentry.violations.filter((v) => !v.startsWith("GET /api/0/"))).toEqual([]);
  });

  test("test-event with no gateway running names the address, exit 1", async () => {
    const r = await runCli(["test-event", "-c", await configFor(), "--url", `http://127.0.0.1:${closedPort()}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is cyclops serve running?");
  });
});

describe("errors that name the real problem: one line, exit 2", () => {
  const oneLine = (r: { code: number; stderr: string }) => {
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toHaveLength(1);
  };

  test("CYCLOPS_STORAGE=Sqlite names memory, sqlite and redis", async () => {
    const r = await runCli(["serve", "-p", "0", "-b", "127.0.0.1"], { env: { CYCLOPS_STORAGE: "Sqlite" } });
    oneLine(r);
    for (const v of ["memory", "sqlite", "redis", "CYCLOPS_STORAGE"]) expect(r.stderr).toContain(v);
  });

  test("CYCLOPS_STATS_TOKEN too short names the minimum, not the token", async () => {
    const r = await runCli(["serve", "-p", "0", "-b", "127.0.0.1"], { env: { CYCLOPS_STATS_TOKEN: "sekret" } });
    oneLine(r);
    expect(r.stderr).toContain("at least 8 characters");
    expect(r.stderr).not.toContain("sekret");
  });

  test("a bad bind address is named", async () => {
    const r = await runCli(["serve", "-p", "0", "-b", "nonsense-host"]);
    oneLine(r);
    expect(r.stderr).toContain("cannot listen on nonsense-host:0");
  });

  test("an unknown CYCLOPS_* variable is a warning naming the closest option", async () => {
    const r = await runCli(["check", "-c", "/nonexistent.json"], { env: { CYCLOPS_MAX_CACHE_USE: "3" } });
    expect(r.stderr).toBe("");
    const dir = tempDir();
    writeFileSync(join(dir, "c.json"), "{}");
    const w = await runCli(["check", "-c", join(dir, "c.json"), "--timeout", "1"], { env: { CYCLOPS_MAX_CACHE_USE: "3" } });
    expect(w.stderr).toContain("CYCLOPS_MAX_CACHE_USE is not an option and is ignored (did you mean CYCLOPS_MAX_CACHE_USES?)");
  });

  test("count against an instance with a STATS_TOKEN says to pass --token", async () => {
    const g = await spawnGateway(["serve", "-p", "0", "-b", "127.0.0.1"], { CYCLOPS_STATS_TOKEN: "0123456789abcdef" });
    try {
      const r = await runCli(["count", "127.0.0.1", String(g.port)], { env: { CYCLOPS_STATS_TOKEN: "" } });
      expect(r.code).toBe(2);
      expect(lines(r.stderr)).toHaveLength(1);
      expect(r.stderr).toContain("pass --token <token> or set CYCLOPS_STATS_TOKEN");
      const wrong = await runCli(["count", "127.0.0.1", String(g.port), "--token", "not-the-token"]);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain("the token given is not it");
      const ok = await runCli(["count", "127.0.0.1", String(g.port), "--token", "0123456789abcdef"]);
      expect(ok.code).toBe(0);
    } finally {
      await g.stop();
    }
  });
});

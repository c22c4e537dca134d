/**
 * What `cyclops serve` says at its default level (no -v, LOG_LEVEL info), as a process: a warning
 * at start when no key is configured; a warning within seconds of the first failed send when
 * Sentry is unreachable; episode lines; the minute's drop summary is covered by the Narrator's
 * own test. Every line JSON.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnGateway, tempDir, type TestGateway } from "../helpers/gateway.ts";
import { until } from "../helpers/wait.ts";
import { PROJECT, PUBLIC_KEY, sendError } from "../alerts/webhook.ts";

interface Line {
  level: string;
  msg: string;
  time: string;
  [k: string]: unknown;
}

const lines = (g: TestGateway): Line[] =>
  g
    .stderr()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);

async function serve(settings: Record<string, unknown>): Promise<TestGateway> {
  const file = join(tempDir(), "cyclops.json");
  writeFileSync(file, JSON.stringify({ BIND: "127.0.0.1", PORT: 0, CLIENT_REPORTS: false, SHUTDOWN_TIMEOUT: 0.2, ...settings }));
  return spawnGateway(["serve", "-c", file]);
}

describe("logs at the default level", () => {
  let g: TestGateway | undefined;
  afterEach(async () => {
    await g?.stop();
    g = undefined;
  });

  test("no keys: a warning at start", async () => {
    g = await serve({});
    const warned = lines(g).filter((l) => l.level === "warn" && /no project keys configured/.test(l.msg));
    expect(warned).toHaveLength(1);
    expect(lines(g).map((l) => l.msg)).toContain("cyclops started");
    await g.stop();
    expect(lines(g).find((l) => l.msg === "cyclops stopped")).toMatchObject({ level: "info", delivered: 0, left: 0, lost: 0, dropped: 0 });
  });

  test("Sentry unreachable: a warning within seconds of the first failed send, and episode lines, nothing per request", async () => {
    g = await serve({
      PROJECT_KEYS: [[PROJECT, PUBLIC_KEY, null]],
      SENTRY_BASE_URL: "http://127.0.0.1:1",
      MAX_CACHE_USES: 1,
      URL_CACHE_EXPIRATION: 60,
      ALERT_MIN_DROPS_PER_MINUTE: 5,
    });
    for (let i = 0; i < 20; i++) expect((await sendError(g.url, "same")).status).toBe(200);
    const sentAt = Date.now();
    await until("the unreachable warning", () => lines(g!).some((l) => l.level === "warn" && /Sentry unreachable/.test(l.msg)), 5000);
    console.log(`[logs] 'Sentry unreachable' logged ${Date.now() - sentAt} ms after the 20th report was answered (0: before it)`);
    const down = lines(g).find((l) => /Sentry unreachable/.test(l.msg))!;
    expect(String(down.cause)).toMatch(/refused|ECONNREFUSED|connect/i);
    await until("the episode line", () => lines(g!).some((l) => l.msg === "dropping started"), 5000);
    expect(lines(g).find((l) => l.msg === "dropping started")).toMatchObject({
      level: "warn",
      project: PROJECT,
      reason: "flood",
      top: [{ title: "same", count: expect.any(Number) }],
    });
    // 20 requests, a handful of lines: nothing per request at info.
    expect(lines(g).length).toBeLessThan(10);
    // Memory storage and Sentry away: what was queued is lost at shutdown, and the line says so.
    await g.stop();
    expect(lines(g).find((l) => l.msg === "cyclops stopped")).toMatchObject({ delivered: 0, left: 0, lost: 1 });
  });
});

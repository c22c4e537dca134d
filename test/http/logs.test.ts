/**
 * What an operator reads: cyclops run as a process with -vv (info) logs JSON lines on stderr,
 * one start-up line saying what runs (version, config file, storage, key sources, address), no
 * secret from the config, no event payload, and one line when Sentry goes down and one when it
 * is back, however many reports wait meanwhile.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const PROJECT = 7;
const PUBLIC_KEY = "b7a0000000000000000000000000000a";
const SECRETS = {
  DB_PASS: "db-pass-marker-4f1c9a",
  REDIS_PASSWORD: "redis-password-marker-8e2d7b",
  SENTRY_API_TOKEN: "api-token-marker-3a6f0c",
  STATS_TOKEN: "stats-token-marker-9b5e2d",
  projectSecret: "5ec7e700000000000000000000005ec7",
};
/** In every event message, and must never be logged. */
const PAYLOAD_MARKER = "payload-marker-d41d8cd9";
/** The line scripts wait for to learn the port: a JSON log line like every other. */
const LISTENING = /^cyclops listening on \S+ \(port \d+\)$/;
const EVENTS_WHILE_DOWN = 50;

interface LogLine {
  level: string;
  time: string;
  msg: string;
  [k: string]: unknown;
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(20);
  }
}

function sendEvent(g: TestGateway, i: number): Promise<Response> {
  return fetch(`${g.url}/api/${PROJECT}/store/`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=cyclops-test/1.0, sentry_key=${PUBLIC_KEY}, sentry_secret=${SECRETS.projectSecret}`,
    },
    body: JSON.stringify({ event_id: crypto.randomUUID().replace(/-/g, ""), message: `${PAYLOAD_MARKER} error #${i}`, extra: { note: PAYLOAD_MARKER } }),
  });
}

describe("logs of a running cyclops (-vv)", () => {
  let fake: FakeSentry;
  let g: TestGateway;
  let lines: string[] = [];
  let parsed: LogLine[] = [];
  const upstreamDown = () => parsed.filter((l) => /unreachable/i.test(l.msg));
  const upstreamUp = () => parsed.filter((l) => /reachable again/i.test(l.msg));
  const refresh = () => {
    lines = g
      .stderr()
      .split("\n")
      .filter((l) => l.length > 0);
    parsed = lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as LogLine];
      } catch {
        return [];
      }
    });
  };

  beforeAll(async () => {
    fake = await startFakeSentry({ keys: { [PROJECT]: [PUBLIC_KEY] } });
    g = await startTestGateway(
      {
        PROJECT_KEYS: [[PROJECT, PUBLIC_KEY, SECRETS.projectSecret]],
        SENTRY_BASE_URL: fake.url,
        PACING: "adaptive",
        URL_CACHE_EXPIRATION: 0,
        DB_PASS: SECRETS.DB_PASS,
        REDIS_PASSWORD: SECRETS.REDIS_PASSWORD,
        SENTRY_API_TOKEN: SECRETS.SENTRY_API_TOKEN,
        STATS_TOKEN: SECRETS.STATS_TOKEN,
      },
      "process",
    );

    // Sentry up: one event through.
    expect((await sendEvent(g, 0)).status).toBe(200);
    await fake.waitFor(1, 10_000);

    // Sentry down while 50 reports arrive: cyclops takes them all and keeps them queued.
    const port = fake.port;
    await fake.stop();
    for (let i = 1; i <= EVENTS_WHILE_DOWN; i++) expect((await sendEvent(g, i)).status).toBe(200);
    refresh();
    await until("the 'Sentry unreachable' line", () => (refresh(), upstreamDown().length > 0), 10_000);
    // Let a few probes fail (backoff 0.5-1 s, then 1-2 s).
    await Bun.sleep(2000);

    // Sentry back on the same address: everything queued is delivered.
    fake = await startFakeSentry({ port, keys: { [PROJECT]: [PUBLIC_KEY] } });
    await fake.waitFor(EVENTS_WHILE_DOWN, 20_000);
    await until("the 'Sentry reachable again' line", () => (refresh(), upstreamUp().length > 0), 5000);
    await g.stop();
    refresh();
  }, 60_000);

  afterAll(async () => {
    await g?.stop();
    await fake?.stop();
  });

  test("every stderr line is a JSON log record, the 'listening' line included", () => {
    expect(parsed.filter((l) => LISTENING.test(l.msg)).length).toBe(1);
    const notJson = lines.filter((l) => {
      try {
        const v = JSON.parse(l) as Partial<LogLine>;
        return typeof v !== "object" || v === null || typeof v.level !== "string" || typeof v.msg !== "string" || typeof v.time !== "string";
      } catch {
        return true;
      }
    });
    expect(notJson).toEqual([]);
    // -vv is info: nothing at debug.
    expect(parsed.filter((l) => l.level === "debug" || l.level === "trace")).toEqual([]);
    expect(parsed.map((l) => l.msg)).toContain("cyclops stopped");
  });

  test("one start-up line with version, config file, storage, key sources and listen address", () => {
    const started = parsed.filter((l) => l.msg === "cyclops started");
    expect(started.length).toBe(1);
    const line = started[0]!;
    expect(line.level).toBe("info");
    expect(typeof line.version).toBe("string");
    expect(String(line.version)).toMatch(/^\d+\.\d+\.\d+/);
    expect(String(line.config)).toMatch(/cyclops\.json$/);
    expect(line.storage).toBe("memory");
    expect(line.keys).toBe(1);
    expect(line.key_sources).toEqual(["static"]);
    expect(line.pacing).toBe("adaptive");
    expect(line.listen).toBe(`127.0.0.1:${g.port}`);
  });

  test("no secret from the config appears in the log", () => {
    const all = lines.join("\n");
    for (const [name, secret] of Object.entries(SECRETS)) {
      expect({ name, logged: all.includes(secret) }).toEqual({ name, logged: false });
    }
  });

  test("one warning when Sentry goes down and one when it is back, not one per report", () => {
    const down = upstreamDown();
    expect(down.length).toBe(1);
    expect(down[0]!.level).toBe("warn");
    const up = upstreamUp();
    expect(up.length).toBe(1);
    expect(up[0]!.level).toBe("warn");
    const from = parsed.indexOf(down[0]!);
    const to = parsed.indexOf(up[0]!);
    expect(from).toBeLessThan(to);
    // Nothing else said per report (or per retry) while Sentry was down.
    expect(parsed.slice(from + 1, to).filter((l) => l.level === "warn" || l.level === "error")).toEqual([]);
    expect(fake.violations).toEqual([]);
  });

  test("no event payload content is logged", () => {
    expect(lines.filter((l) => l.includes(PAYLOAD_MARKER))).toEqual([]);
  });
});

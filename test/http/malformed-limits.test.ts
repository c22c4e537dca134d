/**
 * Issue 18 through the HTTP server: hostile nesting and large compressed bodies are answered
 * without stalling anyone else, event ids are Relay's, and a Basic secret is checked like any
 * other. Latencies are printed for the record, never asserted (the machine is shared).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as zlib from "node:zlib";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { until } from "../helpers/wait.ts";

const KEY = "c".repeat(32);
const SECRET = "d".repeat(32);
const PROJECT = 7;
const AUTH = { "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=limits-test/1.0, sentry_key=${KEY}` };

function deepFingerprintEvent(depth: number, i: number): string {
  return `{"message":"deep ${i}","fingerprint":[${"[".repeat(depth)}${"]".repeat(depth)}]}`;
}

/** Polls /healthcheck back to back until `done` settles; returns each answer's status and latency. */
async function pollHealth(url: string, done: Promise<unknown>): Promise<Array<{ status: number; ms: number }>> {
  const out: Array<{ status: number; ms: number }> = [];
  let finished = false;
  void done.finally(() => (finished = true));
  while (!finished || out.length < 3) {
    const t = performance.now();
    const res = await fetch(`${url}/healthcheck`);
    await res.text();
    out.push({ status: res.status, ms: performance.now() - t });
    await Bun.sleep(2);
  }
  return out;
}

describe("bounded walks over client data", () => {
  let g: TestGateway;
  let sentry: FakeSentry;
  beforeAll(async () => {
    sentry = await startFakeSentry();
    g = await startTestGateway({ PROJECT_KEYS: [[PROJECT, KEY, SECRET]], SENTRY_BASE_URL: sentry.url, URL_CACHE_EXPIRATION: 60 });
  });
  afterAll(async () => {
    await g.stop();
    await sentry.stop();
  });

  test("15 reports with a fingerprint nested 100,000 deep: each a 400, /healthcheck answers throughout", async () => {
    expect(await (await fetch(`${g.url}/healthcheck`)).text()).toBeTruthy(); // a warm connection: its set-up is not measured
    const sends = Array.from({ length: 15 }, (_, i) =>
      fetch(`${g.url}/api/${PROJECT}/store/`, {
        method: "POST",
        headers: { ...AUTH, "Content-Type": "application/json" },
        body: deepFingerprintEvent(100_000, i),
      }).then(async (r) => ({ status: r.status, body: await r.json() })),
    );
    const started = performance.now();
    const all = Promise.all(sends);
    const health = await pollHealth(g.url, all);
    const answers = await all;
    const tookMs = performance.now() - started;
    for (const a of answers) expect(a).toEqual({ status: 400, body: { detail: "invalid JSON data", causes: ["recursion limit exceeded"] } });
    expect(health.every((h) => h.status === 200)).toBe(true);
    console.log(
      `[limits] 15 deep fingerprints answered in ${tookMs.toFixed(0)} ms; ${health.length} health checks meanwhile, max ${Math.max(...health.map((h) => h.ms)).toFixed(1)} ms`,
    );
  });

  test("the same nesting inside an envelope's event item is a 400", async () => {
    const event = deepFingerprintEvent(100_000, 0);
    const body = `{}\n{"type":"event","length":${event.length}}\n${event}\n`;
    const res = await fetch(`${g.url}/api/${PROJECT}/envelope/`, { method: "POST", headers: AUTH, body });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ detail: "invalid event envelope", causes: ["recursion limit exceeded"] });
  });

  test("an envelope of 100,000 empty items is a 400, not a second of parsing", async () => {
    const body = `{}\n${'{"type":"x","length":0}\n\n'.repeat(100_000)}`;
    const res = await fetch(`${g.url}/api/${PROJECT}/envelope/`, { method: "POST", headers: AUTH, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { causes: string[] }).causes).toEqual(["more than 1000 items"]);
  });

  /** An envelope of one 16 MiB attachment, gzipped (~50 KB on the wire); `dsn` in its header when given. */
  function bigGzipEnvelope(dsnKey?: string): Uint8Array {
    const attachment = Buffer.alloc(16 * 1024 * 1024, "ab");
    const header = dsnKey ? `{"dsn":"http://${dsnKey}@127.0.0.1/${PROJECT}"}` : "{}";
    return zlib.gzipSync(Buffer.concat([Buffer.from(`${header}\n{"type":"attachment","length":${attachment.length},"filename":"big.txt"}\n`), attachment, Buffer.from("\n")]));
  }

  async function sendWhilePolling(body: Uint8Array, n: number): Promise<{ statuses: number[]; maxMs: number; checks: number }> {
    await (await fetch(`${g.url}/healthcheck`)).text();
    const sends = Array.from({ length: n }, () =>
      fetch(`${g.url}/api/${PROJECT}/envelope/`, { method: "POST", headers: { ...AUTH, "Content-Encoding": "gzip" }, body }).then((r) => r.status),
    );
    const all = Promise.all(sends);
    const health = await pollHealth(g.url, all);
    expect(health.every((h) => h.status === 200)).toBe(true);
    return { statuses: await all, maxMs: Math.max(...health.map((h) => h.ms)), checks: health.length };
  }

  test("16 MiB gzip envelopes inflate off the event loop: /healthcheck answers meanwhile", async () => {
    // Refused after inflating and parsing (their dsn names another key): the decode path alone.
    const refused = await sendWhilePolling(bigGzipEnvelope("f".repeat(32)), 4);
    expect(refused.statuses).toEqual([400, 400, 400, 400]);
    // Accepted and forwarded: the forwarder's own gzip of each 16 MiB body (src/forward) shows here.
    const accepted = await sendWhilePolling(bigGzipEnvelope(), 4);
    expect(accepted.statuses).toEqual([200, 200, 200, 200]);
    console.log(
      `[limits] 4 × 16 MiB gzip envelopes refused after decoding: ${refused.checks} health checks, max ${refused.maxMs.toFixed(1)} ms; accepted and forwarded: ${accepted.checks} checks, max ${accepted.maxMs.toFixed(1)} ms`,
    );
  });

  test("an event_id that is not a UUID gets Relay's 400", async () => {
    for (const [id, cause] of [
      ["123", "UUID parsing failed: invalid UUID"],
      ["not-a-uuid", "UUID parsing failed: invalid UUID"],
      [123, "invalid type: integer `123`, expected a UUID string"],
    ] as const) {
      const res = await fetch(`${g.url}/api/${PROJECT}/store/`, { method: "POST", headers: AUTH, body: JSON.stringify({ event_id: id, message: "bad id" }) });
      expect({ id, status: res.status, body: await res.json() }).toEqual({ id, status: 400, body: { detail: "invalid JSON data", causes: [cause] } });
    }
  });

  test("a store event without event_id is forwarded carrying the id its SDK was told", async () => {
    sentry.reset();
    const bodies = [JSON.stringify({ message: "no id here", level: "error" }), JSON.stringify({ event_id: null, message: "null id" }), "{}"];
    const told: string[] = [];
    for (const body of bodies) {
      const res = await fetch(`${g.url}/api/${PROJECT}/store/`, { method: "POST", headers: AUTH, body });
      expect(res.status).toBe(200);
      told.push(((await res.json()) as { id: string }).id);
    }
    // Reports of the tests before may still arrive after the reset (several go at once to
    // Sentry): wait for these three, then each must be there exactly once.
    const idsAtSentry = () => sentry.received.map((r) => (r.json as { event_id?: string } | undefined)?.event_id);
    await until("the three reports at Sentry", () => told.every((id) => idsAtSentry().includes(id)));
    for (const id of told) expect(idsAtSentry().filter((x) => x === id)).toHaveLength(1);
    for (const id of told) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(sentry.violations).toEqual([]);
  });

  test("Authorization: Basic key:secret is checked like every other placement", async () => {
    const basic = (userPass: string) => ({ Authorization: `Basic ${btoa(userPass)}` });
    const body = JSON.stringify({ message: "basic auth" });
    const post = (headers: Record<string, string>) => fetch(`${g.url}/api/${PROJECT}/store/`, { method: "POST", headers, body }).then((r) => r.status);
    expect(await post(basic(`${KEY}:wrongsecret`))).toBe(403);
    expect(await post({ "X-Sentry-Auth": `Sentry sentry_key=${KEY}, sentry_secret=wrongsecret` })).toBe(403);
    expect(await post(basic(`${KEY}:${SECRET}`))).toBe(200);
    expect(await post(basic(`${KEY}:`))).toBe(200);
  });
});

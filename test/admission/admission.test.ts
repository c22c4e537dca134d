/**
 * Admission's verdicts, driven in process: through the gateway's HTTP handler with no socket
 * (build().handle, the same code the listener serves), and through Admission itself where a
 * verdict needs a state HTTP cannot set up quickly (an active Sentry rate limit).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { Admission } from "../../src/admission/admission.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { build, type Parts } from "../../src/gateway/gateway.ts";
import { OUTCOMES } from "../../src/outcome/outcomes.ts";
import { decodeEvent } from "../../src/protocol/report.ts";
import type { Verdict } from "../../src/admission/verdict.ts";
import { answer } from "../../src/server/answer.ts";
import { eventJson, KEY, MATRIX_KEYS, PROJECT, UNKNOWN_KEY } from "../http/matrix.ts";

const configOf = (flags: Partial<Config>): Config =>
  loadConfig({ env: {}, flags: { SENTRY_BASE_URL: "http://127.0.0.1:1", CLIENT_REPORTS: false, PROJECT_KEYS: MATRIX_KEYS, ...flags } }).config;

let parts: Parts | null = null;
afterEach(async () => {
  await parts?.close();
  parts = null;
});

async function gateway(flags: Partial<Config>): Promise<Parts> {
  parts = await build(configOf(flags));
  await parts.deps.keys.refresh();
  return parts;
}

const store = (body: string, key = KEY) =>
  new Request(`http://cyclops.test/api/${PROJECT}/store/`, {
    method: "POST",
    headers: { "X-Sentry-Auth": `Sentry sentry_version=7, sentry_key=${key}`, "Content-Type": "application/json" },
    body,
  });

describe("in process, without a socket", () => {
  test("the flood cut: MAX_CACHE_USES reports queued, the rest answered 200 IGNORED and reported as event_processor", async () => {
    const g = await gateway({ MAX_CACHE_USES: 2, URL_CACHE_EXPIRATION: 60 });
    const event = eventJson("the same error");
    const answers = [];
    for (let i = 0; i < 4; i++) {
      const res = await g.handle(store(event));
      answers.push([res.status, res.headers.get("x-cyclops-status"), res.headers.get("x-cyclops-cache-count")]);
    }
    expect(answers).toEqual([
      [200, "PROCESSED", "1"],
      [200, "PROCESSED", "2"],
      [200, "IGNORED", "3"],
      [200, "IGNORED", "4"],
    ]);
    const { stats, queue } = g.deps;
    expect(queue.approxItems).toBe(2);
    expect([stats.processed, stats.dropped.flood]).toEqual([2, 2]);
    expect(stats.discarded.get(`${PROJECT}|event_processor|error`)).toBe(2);
    const count = (await (await g.handle(new Request("http://cyclops.test/count"))).json()) as { processed: number; ignored: number; count: number };
    expect([count.processed, count.ignored, count.count]).toEqual([2, 2, 2]);
  });

  test("IGNORE_PERCENTAGE 100 samples every error out, reported as sample_rate", async () => {
    const g = await gateway({ IGNORE_PERCENTAGE: { [String(PROJECT)]: 100 } });
    const res = await g.handle(store(eventJson()));
    expect([res.status, res.headers.get("x-cyclops-status")]).toEqual([200, "IGNORED"]);
    expect(g.deps.queue.approxItems).toBe(0);
    expect(g.deps.stats.dropped.sampled).toBe(1);
    expect(g.deps.stats.discarded.get(`${PROJECT}|sample_rate|error`)).toBe(1);
  });

  test("a full queue answers 429 with Retry-After and X-Sentry-Rate-Limits, reported as rate-limited queue_full", async () => {
    const g = await gateway({ MAX_QUEUE_ITEMS: 1, URL_CACHE_EXPIRATION: 0 });
    expect((await g.handle(store(eventJson()))).status).toBe(200);
    const res = await g.handle(store(eventJson()));
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("60");
    expect(res.headers.get("x-sentry-rate-limits")).toBe("60:error:organization:queue_full");
    expect(g.deps.stats.dropped.queue_full).toBe(1);
    expect(g.deps.stats.discarded.get(`${PROJECT}|rate_limited:queue_full|error`)).toBe(1);
  });

  test("an unknown key is refused with 403 before admission and nothing is queued", async () => {
    const g = await gateway({});
    const res = await g.handle(store(eventJson(), UNKNOWN_KEY));
    expect(res.status).toBe(403);
    expect(((await res.json()) as { detail: string }).detail).toContain("ProjectId");
    expect(g.deps.queue.approxItems).toBe(0);
    expect(g.deps.stats.dropped.unknown_key).toBe(1);
  });
});

test("Sentry's active rate limit is passed back as 429 and no report is queued", async () => {
  const g = await gateway({});
  const { deps } = g;
  const limited = new Admission({ ...deps, rateLimits: (_p, category) => (category === "error" ? { retryAfter: 30, header: "30:error:key" } : null) });
  const auth = { publicKey: KEY, secretKey: null, client: null, version: 7 };
  const report = decodeEvent(new TextEncoder().encode(eventJson()), null, 1 << 20);
  const v = limited.admit(report, PROJECT, auth, null, null);
  expect(v instanceof Promise).toBe(false);
  expect(v).toMatchObject({ outcome: OUTCOMES.rate_limited, limit: { retryAfter: 30, header: "30:error:key" } });
  const res = answer(v as Verdict, report.eventId, false);
  expect([res.status, res.headers.get("retry-after"), res.headers.get("x-sentry-rate-limits")]).toEqual([429, "30", "30:error:key"]);
  expect(deps.queue.approxItems).toBe(0);
  expect(deps.stats.discarded.get(`${PROJECT}|ratelimit_backoff|error`)).toBe(1);
  // A transaction is not limited by an error limit: accepted.
  const tx = decodeEvent(new TextEncoder().encode(JSON.stringify({ type: "transaction", event_id: "a".repeat(32) })), null, 1 << 20);
  expect((limited.admit(tx, PROJECT, auth, null, null) as { outcome: unknown }).outcome).toBe(OUTCOMES.accepted);
});

/** /metrics after a known mix of traffic: exact values, valid exposition format, STATS_TOKEN. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { eventJson, KEY, MATRIX_KEYS, PROJECT, UNKNOWN_KEY } from "./matrix.ts";

const header = (key: string) => ({ "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=m/1, sentry_key=${key}` });

/** Parses Prometheus text exposition format strictly enough to catch malformed output. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === "TYPE") {
        expect(["counter", "gauge", "histogram", "summary", "untyped"]).toContain(meta[3]!);
        typed.add(meta[2]!);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (!m) throw new Error(`not exposition format: ${line}`);
    const family = m[1]!.replace(/_(bucket|sum|count)$/, "");
    if (!typed.has(m[1]!) && !typed.has(family)) throw new Error(`sample before its TYPE: ${line}`);
    samples.set(m[1]! + (m[2] ?? ""), Number(m[3]));
  }
  return samples;
}

describe("/metrics", () => {
  let g: TestGateway;
  beforeAll(async () => {
    g = await startTestGateway({ PROJECT_KEYS: MATRIX_KEYS, URL_CACHE_EXPIRATION: 60, MAX_CACHE_USES: 2, MAX_QUEUE_ITEMS: 4 });
  });
  afterAll(() => g.stop());

  test("counts a known mix exactly", async () => {
    const post = (key: string, body: string) => fetch(`${g.url}/api/${PROJECT}/store/`, { method: "POST", headers: header(key), body });
    for (let i = 0; i < 5; i++) await post(KEY, JSON.stringify({ message: "same", event_id: crypto.randomUUID().replace(/-/g, "") })); // 2 accepted, 3 flood
    await post(UNKNOWN_KEY, eventJson()); // unknown key
    await post(KEY, "{not json"); // invalid
    await post(KEY, JSON.stringify({ message: "x".repeat(1_100_000) })); // too large
    for (let i = 0; i < 3; i++) await post(KEY, eventJson()); // 2 accepted, then queue full (4 items)
    const text = await (await fetch(`${g.url}/metrics`)).text();
    const m = parseExposition(text);
    expect(m.get("cyclops_requests_received_total")).toBe(11);
    expect(m.get(`cyclops_reports_accepted_total{project="${PROJECT}"}`)).toBe(4);
    expect(m.get('cyclops_reports_dropped_total{reason="flood"}')).toBe(3);
    expect(m.get('cyclops_reports_dropped_total{reason="unknown_key"}')).toBe(1);
    expect(m.get('cyclops_reports_dropped_total{reason="invalid"}')).toBe(1);
    expect(m.get('cyclops_reports_dropped_total{reason="too_large"}')).toBe(1);
    expect(m.get('cyclops_reports_dropped_total{reason="queue_full"}')).toBe(1);
    expect(m.get('cyclops_reports_dropped_total{reason="sampled"}')).toBe(0);
    expect(m.get(`cyclops_reports_ignored_total{project="${PROJECT}"}`)).toBe(3);
    expect(m.get("cyclops_queue_items")).toBe(4);
    expect(m.get("cyclops_keys")).toBe(MATRIX_KEYS.length);
    expect(m.get("cyclops_keys_age_seconds")).toBeGreaterThanOrEqual(0);
    expect(text).toContain("# HELP cyclops_upstream_latency_seconds");
  });
});

describe("STATS_TOKEN protects /count and /metrics", () => {
  test("without the token 401; with it 200", async () => {
    const g = await startTestGateway({ STATS_TOKEN: "s3cret-token" });
    try {
      for (const path of ["/count", "/metrics"]) {
        expect((await fetch(`${g.url}${path}`)).status).toBe(401);
        expect((await fetch(`${g.url}${path}`, { headers: { Authorization: "Bearer s3cret-token" } })).status).toBe(200);
      }
      expect((await fetch(`${g.url}/healthcheck`)).status).toBe(200);
    } finally {
      await g.stop();
    }
  });
});

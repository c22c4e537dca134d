/**
 * The HTTP ingest suite. It runs cyclops in-process by default, and against the compiled binary
 * when CYCLOPS_BINARY is set (.ci/run's end-to-end step), so both answer the same.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PIXEL } from "../../src/server/responses.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { envelopeOf, eventJson, KEY, MATRIX_KEYS, matrixCases, OTHER_KEY, OTHER_PROJECT, PROJECT, send } from "./matrix.ts";

interface CountDoc {
  count: number;
  processed: number;
  ignored: number;
}
const count = async (g: TestGateway): Promise<CountDoc> => (await fetch(`${g.url}/count`)).json() as Promise<CountDoc>;
const auth = { "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=suite/1.0, sentry_key=${KEY}`, "Content-Type": "application/json" };

describe("route × auth × encoding matrix answers as Sentry does", () => {
  let g: TestGateway;
  beforeAll(async () => {
    g = await startTestGateway({ PROJECT_KEYS: MATRIX_KEYS, URL_CACHE_EXPIRATION: 0 });
  });
  afterAll(() => g.stop());

  const cases = matrixCases();
  test(`${cases.length} combinations`, async () => {
    const wrong: string[] = [];
    for (const c of cases) {
      const res = await send(g.url, c.request());
      const body = await res.text();
      if (res.status !== c.expected) wrong.push(`${c.route} ${c.auth} ${c.encoding}: got ${res.status} ${body}, Sentry answers ${c.expected}`);
      else if (res.status !== 200 && !JSON.parse(body).detail) wrong.push(`${c.route} ${c.auth} ${c.encoding}: no detail in ${body}`);
      if (res.headers.get("access-control-allow-origin") !== "*") wrong.push(`${c.route} ${c.auth} ${c.encoding}: no CORS header`);
    }
    expect(wrong).toEqual([]);
    const accepted = cases.filter((c) => c.expected === 200).length;
    expect((await count(g)).processed).toBe(accepted);
  });
});

describe("answers", () => {
  let g: TestGateway;
  beforeAll(async () => {
    g = await startTestGateway({ PROJECT_KEYS: MATRIX_KEYS, URL_CACHE_EXPIRATION: 0, HEALTHCHECK_TEXT: "ALIVE" });
  });
  afterAll(() => g.stop());

  test("store answers {id} with the event's id and the original's headers", async () => {
    const event = eventJson();
    const res = await fetch(`${g.url}/api/${PROJECT}/store/`, { method: "POST", headers: auth, body: event });
    expect(res.status).toBe(200);
    expect((await res.json()) as { [k: string]: any }).toEqual({ id: JSON.parse(event).event_id });
    expect(res.headers.get("x-cyclops-status")).toBe("PROCESSED");
    expect(res.headers.get("x-cyclops-cache-count")).toBe("0");
  });

  test("an event without event_id gets a fresh 32-hex id", async () => {
    const res = await fetch(`${g.url}/api/${PROJECT}/store/`, { method: "POST", headers: auth, body: '{"message":"no id"}' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { [k: string]: any }).id).toMatch(/^[0-9a-f]{32}$/);
  });

  test("envelope without an event answers {}", async () => {
    const body = `{}\n{"type":"session"}\n{"sid":"${crypto.randomUUID()}","status":"ok","attrs":{"release":"r1"}}\n`;
    const res = await fetch(`${g.url}/api/${PROJECT}/envelope/`, { method: "POST", headers: { ...auth, "Content-Type": "application/x-sentry-envelope" }, body });
    expect(res.status).toBe(200);
    expect((await res.json()) as { [k: string]: any }).toEqual({});
  });

  test("GET store answers the 1×1 GIF", async () => {
    const q = `sentry_version=7&sentry_key=${KEY}&sentry_data=${encodeURIComponent(eventJson())}`;
    const res = await fetch(`${g.url}/api/${PROJECT}/store/?${q}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/gif");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(PIXEL);
  });

  test("CORS preflight as Relay answers it", async () => {
    for (const path of [`/api/${PROJECT}/store/`, `/api/${PROJECT}/envelope/`, "/api/store/"]) {
      const res = await fetch(`${g.url}${path}`, {
        method: "OPTIONS",
        headers: { Origin: "http://other.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-sentry-auth" },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-methods")).toContain("POST");
      expect(res.headers.get("access-control-allow-headers")).toContain("x-sentry-auth");
      expect(res.headers.get("access-control-max-age")).toBe("3600");
    }
  });

  test("wrong methods get 405 with a detail", async () => {
    const res = await fetch(`${g.url}/api/${PROJECT}/envelope/`, { method: "GET" });
    expect(res.status).toBe(405);
    expect(((await res.json()) as { [k: string]: any }).detail).toBe("method not allowed");
    expect((await fetch(`${g.url}/api/${PROJECT}/store/`, { method: "PUT", body: "{}" })).status).toBe(405);
  });

  test("healthcheck on all three paths; unknown paths 404", async () => {
    for (const path of ["/healthcheck", "/healthcheck/", "/healthcheck.html"]) {
      const res = await fetch(`${g.url}${path}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("ALIVE");
    }
    expect((await fetch(`${g.url}/nope`)).status).toBe(404);
  });

  test("non-numeric project id: 400 bad project path parameter", async () => {
    const res = await fetch(`${g.url}/api/abc/store/`, { method: "POST", headers: auth, body: eventJson() });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { [k: string]: any }).detail).toBe("bad project path parameter");
  });

  test("too large: 413 before and after decompression", async () => {
    const big = JSON.stringify({ message: "x".repeat(1_100_000) });
    expect((await fetch(`${g.url}/api/${PROJECT}/store/`, { method: "POST", headers: auth, body: big })).status).toBe(413);
    const { gzipSync } = await import("node:zlib");
    const res = await fetch(`${g.url}/api/${PROJECT}/store/`, { method: "POST", headers: { ...auth, "Content-Encoding": "gzip" }, body: gzipSync(big) });
    expect(res.status).toBe(413);
  });
});

describe("flood cut and sampling", () => {
  test("MAX_CACHE_USES = 3: one error repeated 100 times enqueues 3 and ignores 97", async () => {
    const g = await startTestGateway({ PROJECT_KEYS: MATRIX_KEYS, URL_CACHE_EXPIRATION: 60, MAX_CACHE_USES: 3 });
    try {
      const statuses: string[] = [];
      for (let i = 0; i < 100; i++) {
        // a new event id and timestamp each time, as an SDK sends the same error again
        const body = JSON.stringify({
          event_id: crypto.randomUUID().replace(/-/g, ""),
          timestamp: Date.now() / 1000,
          exception: {
            values: [{ type: "TypeError", value: "x is undefined", stacktrace: { frames: [{ filename: "app.js", function: "render", lineno: 10 + (i % 3), in_app: true }] } }],
          },
        });
        const res = await fetch(`${g.url}/api/${PROJECT}/store/`, { method: "POST", headers: auth, body });
        expect(res.status).toBe(200);
        statuses.push(res.headers.get("x-cyclops-status")!);
      }
      expect(statuses.filter((s) => s === "PROCESSED")).toHaveLength(3);
      expect(statuses.slice(0, 3)).toEqual(["PROCESSED", "PROCESSED", "PROCESSED"]);
      const c = await count(g);
      expect(c.processed).toBe(3);
      expect(c.ignored).toBe(97);
      // a different error is not affected
      const other = await fetch(`${g.url}/api/${PROJECT}/store/`, { method: "POST", headers: auth, body: eventJson("another error") });
      expect(other.headers.get("x-cyclops-status")).toBe("PROCESSED");
    } finally {
      await g.stop();
    }
  });

  test("the same error in two projects is counted apart", async () => {
    const g = await startTestGateway({ PROJECT_KEYS: MATRIX_KEYS, URL_CACHE_EXPIRATION: 60, MAX_CACHE_USES: 2 });
    try {
      const body = () =>
        JSON.stringify({
          event_id: crypto.randomUUID().replace(/-/g, ""),
          exception: { values: [{ type: "TypeError", value: "x", stacktrace: { frames: [{ module: "app", function: "f" }] } }] },
        });
      const send = async (project: number, key: string) => {
        const headers = { ...auth, "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=suite/1.0, sentry_key=${key}` };
        return (await fetch(`${g.url}/api/${project}/store/`, { method: "POST", headers, body: body() })).headers.get("x-cyclops-status");
      };
      const first = [await send(PROJECT, KEY), await send(PROJECT, KEY), await send(PROJECT, KEY)];
      const other = [await send(OTHER_PROJECT, OTHER_KEY), await send(OTHER_PROJECT, OTHER_KEY), await send(OTHER_PROJECT, OTHER_KEY)];
      expect(first).toEqual(["PROCESSED", "PROCESSED", "IGNORED"]);
      expect(other).toEqual(["PROCESSED", "PROCESSED", "IGNORED"]);
    } finally {
      await g.stop();
    }
  });

  test("envelopes of one error are cut the same way; sessions are never cut", async () => {
    const g = await startTestGateway({ PROJECT_KEYS: MATRIX_KEYS, URL_CACHE_EXPIRATION: 60, MAX_CACHE_USES: 2 });
    try {
      const event = () => JSON.stringify({ event_id: crypto.randomUUID().replace(/-/g, ""), message: "same message" });
      const h = { ...auth, "Content-Type": "application/x-sentry-envelope" };
      const results = [];
      for (let i = 0; i < 5; i++) {
        results.push((await fetch(`${g.url}/api/${PROJECT}/envelope/`, { method: "POST", headers: h, body: envelopeOf(event()) })).headers.get("x-cyclops-status"));
      }
      expect(results).toEqual(["PROCESSED", "PROCESSED", "IGNORED", "IGNORED", "IGNORED"]);
      const session = `{}\n{"type":"session"}\n{"sid":"s","status":"ok","attrs":{"release":"r"}}\n`;
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${g.url}/api/${PROJECT}/envelope/`, { method: "POST", headers: h, body: session });
        expect(res.headers.get("x-cyclops-status")).toBe("PROCESSED");
      }
    } finally {
      await g.stop();
    }
  });

  test("IGNORE_PERCENTAGE 100 drops every report of that project only", async () => {
    const g = await startTestGateway({ PROJECT_KEYS: MATRIX_KEYS, URL_CACHE_EXPIRATION: 0, IGNORE_PERCENTAGE: { [String(PROJECT)]: 100 } });
    try {
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${g.url}/api/${PROJECT}/store/`, { method: "POST", headers: auth, body: eventJson() });
        expect(res.status).toBe(200);
        expect(res.headers.get("x-cyclops-status")).toBe("IGNORED");
      }
      const c = await count(g);
      expect(c.ignored).toBe(10);
      expect(c.processed).toBe(0);
    } finally {
      await g.stop();
    }
  });
});

describe("backpressure", () => {
  test("a full queue answers 429 with Retry-After and X-Sentry-Rate-Limits, and never grows past its bound", async () => {
    const g = await startTestGateway({ PROJECT_KEYS: MATRIX_KEYS, URL_CACHE_EXPIRATION: 0, MAX_QUEUE_ITEMS: 5 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const res = await fetch(`${g.url}/api/${PROJECT}/store/`, { method: "POST", headers: auth, body: eventJson() });
        statuses.push(res.status);
        if (res.status === 429) {
          expect(res.headers.get("retry-after")).toBe("60");
          expect(res.headers.get("x-sentry-rate-limits")).toBe("60:error:organization:queue_full");
          expect(((await res.json()) as { [k: string]: any }).detail).toBe("failed to queue envelope");
        }
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
      expect((await count(g)).count).toBe(5);
    } finally {
      await g.stop();
    }
  });
});

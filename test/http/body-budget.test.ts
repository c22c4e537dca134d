/**
 * The budget for bodies in flight and the key checked before the body (issue 18 item 1), driven
 * in process through the gateway's handler (build().handle): bodies given as streams that never
 * end show what is answered without reading them.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { loadConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { build, type Parts } from "../../src/gateway/gateway.ts";
import { envelopeOf, eventJson, KEY, MATRIX_KEYS, PROJECT, UNKNOWN_KEY } from "./matrix.ts";

let parts: Parts | null = null;
afterEach(async () => {
  await parts?.close();
  parts = null;
});

async function gateway(flags: Partial<Config>): Promise<Parts> {
  const { config } = loadConfig({
    env: {},
    flags: { SENTRY_BASE_URL: "http://127.0.0.1:1", CLIENT_REPORTS: false, PROJECT_KEYS: MATRIX_KEYS, URL_CACHE_EXPIRATION: 0, ...flags },
  });
  parts = await build(config);
  await parts.deps.keys.refresh();
  return parts;
}

const encoder = new TextEncoder();

/** A body that sends `first` and then never ends (a client stalled mid-body); `pulled` counts reads past it. */
function stalledBody(first: string): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let pulls = 0;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(first));
    },
    pull() {
      pulls++;
      return new Promise(() => {}); // never more
    },
  });
  return { stream, pulled: () => pulls };
}

const auth = (key: string) => ({ "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=t/1, sentry_key=${key}` });

function post(
  path: string,
  body: ConstructorParameters<typeof Request>[1] extends infer I ? (I extends { body?: infer B } ? B : never) : never,
  headers: Record<string, string>,
): Request {
  return new Request(`http://cyclops.test${path}`, { method: "POST", headers, body });
}

/** Answers within a bound, or fails: a handler waiting on a body that never ends would hang. */
async function answered(res: Response | Promise<Response>): Promise<Response> {
  return Promise.race([Promise.resolve(res), Bun.sleep(5000).then(() => Promise.reject(new Error("no answer: the handler waited for the body")))]);
}

describe("the key is checked before the body is read", () => {
  test("an unknown key in the headers: 403 with the body unread", async () => {
    const g = await gateway({});
    const body = stalledBody("{");
    const res = await answered(g.handle(post(`/api/${PROJECT}/store/`, body.stream, { ...auth(UNKNOWN_KEY), "Content-Length": "500000" })));
    expect(res.status).toBe(403);
    expect(g.deps.stats.dropped.unknown_key).toBe(1);
    expect(g.deps.admission.bodies.bytes).toBe(0);
  });

  test("an envelope with its key only in the header's dsn: answered after its first line (403 unknown, 401 none)", async () => {
    const g = await gateway({});
    const unknown = stalledBody(`{"dsn":"http://${UNKNOWN_KEY}@127.0.0.1/${PROJECT}"}\n{"type":"event","length":19000000}\n`);
    const res = await answered(g.handle(post(`/api/${PROJECT}/envelope/`, unknown.stream, { "Content-Type": "application/x-sentry-envelope", "Content-Length": "19000000" })));
    expect(res.status).toBe(403);
    const none = stalledBody(`{"event_id":"${"a".repeat(32)}"}\n`);
    const res2 = await answered(g.handle(post(`/api/${PROJECT}/envelope/`, none.stream, { "Content-Type": "application/x-sentry-envelope" })));
    expect(res2.status).toBe(401);
    // No newline in the first 64 KiB: refused without reading further.
    const endless = stalledBody("{".repeat(70_000));
    const res3 = await answered(g.handle(post(`/api/${PROJECT}/envelope/`, endless.stream, { "Content-Type": "application/x-sentry-envelope" })));
    expect(res3.status).toBe(400);
    expect(g.deps.admission.bodies.bytes).toBe(0);
  });

  test("an envelope whose dsn is known is read whole and accepted", async () => {
    const g = await gateway({});
    const res = await g.handle(
      post(`/api/${PROJECT}/envelope/`, envelopeOf(eventJson(), { dsn: `http://${KEY}@127.0.0.1/${PROJECT}` }), {
        "Content-Type": "application/x-sentry-envelope",
      }),
    );
    expect(res.status).toBe(200);
    expect(g.deps.queue.approxItems).toBe(1);
    expect(g.deps.admission.bodies.bytes).toBe(0);
  });
});

describe("MAX_INFLIGHT_BYTES", () => {
  test("a body that does not fit is answered 429 with both headers before it is read; a small one still fits", async () => {
    const g = await gateway({ MAX_INFLIGHT_BYTES: 1_000_000 });
    // Two stalled bodies of a known key hold 800,000 bytes of the budget.
    const held = [stalledBody("{"), stalledBody("{")];
    const pending = held.map((b) => g.handle(post(`/api/${PROJECT}/store/`, b.stream, { ...auth(KEY), "Content-Length": "400000" })));
    await Bun.sleep(10);
    expect(g.deps.admission.bodies.bytes).toBe(800_000);
    expect(await (await g.handle(new Request("http://cyclops.test/metrics"))).text()).toContain("cyclops_bodies_in_flight_bytes 800000");

    const store = stalledBody("{");
    const refused = await answered(g.handle(post(`/api/${PROJECT}/store/`, store.stream, { ...auth(KEY), "Content-Length": "400000" })));
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("2");
    expect(refused.headers.get("x-sentry-rate-limits")).toBe("2:error:organization:bodies_in_flight");
    expect(store.pulled()).toBe(0);
    const env = await answered(
      g.handle(
        post(`/api/${PROJECT}/envelope/`, stalledBody("{").stream, {
          ...auth(KEY),
          "Content-Length": "400000",
          "Content-Type": "application/x-sentry-envelope",
        }),
      ),
    );
    // An envelope's category is unknown without its body: none named, meaning all.
    expect(env.headers.get("x-sentry-rate-limits")).toBe("2::organization:bodies_in_flight");
    expect(g.deps.stats.dropped.bodies_in_flight).toBe(2);
    // The store refusal's project and category are known: reported to Sentry as rate-limited.
    expect(g.deps.stats.discarded.get(`${PROJECT}|rate_limited:bodies_in_flight|error`)).toBe(1);

    // A small report still fits beside them.
    expect((await g.handle(post(`/api/${PROJECT}/store/`, eventJson(), auth(KEY)))).status).toBe(200);
    expect(g.deps.admission.bodies.bytes).toBe(800_000);
    void pending;
  });

  test("a chunked body is taken from the budget as it arrives: past the room, 429", async () => {
    const g = await gateway({ MAX_INFLIGHT_BYTES: 100_000, MAX_EVENT_SIZE: 1_000_000 });
    const chunk = encoder.encode(" ".repeat(30_000));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent++;
        controller.enqueue(chunk);
      },
    });
    const res = await answered(g.handle(post(`/api/${PROJECT}/store/`, stream, auth(KEY))));
    expect(res.status).toBe(429);
    expect(sent).toBeLessThan(10);
    expect(g.deps.admission.bodies.bytes).toBe(0);
  });

  test("inflation is capped at the room left: past it 429, within the size limit but past the room", async () => {
    const g = await gateway({ MAX_INFLIGHT_BYTES: 200_000, MAX_EVENT_SIZE: 1_000_000 });
    const big = JSON.stringify({ event_id: "b".repeat(32), message: "x".repeat(300_000) });
    const gz = gzipSync(big);
    const res = await g.handle(post(`/api/${PROJECT}/store/`, gz, { ...auth(KEY), "Content-Encoding": "gzip", "Content-Length": String(gz.byteLength) }));
    expect(res.status).toBe(429);
    expect(res.headers.get("x-sentry-rate-limits")).toBe("2:error:organization:bodies_in_flight");
    // The same body with room for it is accepted.
    await g.close();
    const roomy = await gateway({ MAX_INFLIGHT_BYTES: 2_000_000, MAX_EVENT_SIZE: 1_000_000 });
    const ok = await roomy.handle(post(`/api/${PROJECT}/store/`, gz, { ...auth(KEY), "Content-Encoding": "gzip", "Content-Length": String(gz.byteLength) }));
    expect(ok.status).toBe(200);
    expect(roomy.deps.admission.bodies.bytes).toBe(0);
  });
});

describe("MAX_INFLIGHT_BYTES_PER_CLIENT", () => {
  const from = (ip: string) => ({ "X-Forwarded-For": ip });

  test("one client holding stalled uploads up to its share is refused past it; another client's report still gets 200", async () => {
    const g = await gateway({ MAX_INFLIGHT_BYTES: 1_000_000, MAX_INFLIGHT_BYTES_PER_CLIENT: 250_000 });
    // The greedy client's stalled uploads: two of 100,000 bytes fit its share, the third does not.
    const stalled = [0, 1, 2].map(() => stalledBody("{"));
    const pending = stalled.map((b) => g.handle(post(`/api/${PROJECT}/store/`, b.stream, { ...auth(KEY), ...from("203.0.113.7"), "Content-Length": "100000" })));
    const third = await answered(pending[2]!);
    expect(third.status).toBe(429);
    expect(third.headers.get("retry-after")).toBe("2");
    expect(third.headers.get("x-sentry-rate-limits")).toBe("2:error:organization:bodies_in_flight");
    expect(stalled[2]!.pulled()).toBe(0);
    expect(g.deps.admission.bodies.bytes).toBe(200_000);
    // A small report of the greedy client fits what is left of its share, a 60,000-byte body does not...
    const small = eventJson();
    const own = await g.handle(post(`/api/${PROJECT}/store/`, small, { ...auth(KEY), ...from("203.0.113.7"), "Content-Length": String(small.length) }));
    expect(own.status).toBe(200);
    const big = stalledBody("{");
    const ownBig = await answered(g.handle(post(`/api/${PROJECT}/store/`, big.stream, { ...auth(KEY), ...from("203.0.113.7"), "Content-Length": "60000" })));
    expect(ownBig.status).toBe(429);
    // ...while another client's reports, large and small, are read and answered 200.
    const other = JSON.stringify({ event_id: "c".repeat(32), message: "y".repeat(200_000) });
    const res = await g.handle(post(`/api/${PROJECT}/store/`, other, { ...auth(KEY), ...from("198.51.100.2"), "Content-Length": String(other.length) }));
    expect(res.status).toBe(200);
    expect(g.deps.admission.bodies.bytes).toBe(200_000);
    expect(g.deps.admission.bodies.trackedClients).toBe(1);
    void pending;
  });

  test("a stalled chunked body counts against its client's share as it arrives", async () => {
    const g = await gateway({ MAX_INFLIGHT_BYTES: 1_000_000, MAX_INFLIGHT_BYTES_PER_CLIENT: 100_000, MAX_EVENT_SIZE: 1_000_000 });
    const chunk = encoder.encode(" ".repeat(30_000));
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(chunk);
      },
    });
    const res = await answered(g.handle(post(`/api/${PROJECT}/store/`, stream, { ...auth(KEY), ...from("203.0.113.9") })));
    expect(res.status).toBe(429);
    expect(g.deps.admission.bodies.bytes).toBe(0);
    expect(g.deps.admission.bodies.trackedClients).toBe(0);
  });
});

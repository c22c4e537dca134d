import { afterEach, describe, expect, test } from "bun:test";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import { envelopeItem, eventIdOf, harness, keyOf, storeItem, until, type Harness } from "./setup.ts";

let sentry: FakeSentry | null = null;
let h: Harness | null = null;

afterEach(async () => {
  await h?.forwarder.stop(0);
  await sentry?.stop();
  h = null;
  sentry = null;
});

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

describe("delivery", () => {
  test("UPSTREAM_COMPRESSION gzip: bodies go gzip-compressed and decode to the queued bytes", async () => {
    sentry = await startFakeSentry();
    h = harness({ SENTRY_BASE_URL: sentry.url, UPSTREAM_COMPRESSION: "gzip" });
    const items = [storeItem(1), envelopeItem(2)];
    for (const item of items) h.queue.push(item);
    h.forwarder.start();
    await sentry.waitFor(2);
    expect(sentry.violations).toEqual([]);
    for (const r of sentry.received) {
      expect(r.headers["content-encoding"]).toBe("gzip");
      const sent = items.find((i) => i.projectId === r.projectId)!;
      expect(Buffer.from(r.body).equals(Buffer.from(sent.body))).toBe(true);
    }
  });

  test("store and envelope items reach Sentry exactly once, byte-identical, with Relay-style headers", async () => {
    sentry = await startFakeSentry({ keys: { 1: [keyOf(1)], 2: [keyOf(2)] } });
    h = harness({ SENTRY_BASE_URL: sentry.url });
    const store = storeItem(1);
    const env = envelopeItem(2);
    const anonymous = storeItem(1, { auth: { publicKey: keyOf(1), secretKey: "s".repeat(32), client: null, version: 7 }, clientIp: null });
    for (const item of [store, env, anonymous]) h.queue.push(item);
    h.forwarder.start();
    await sentry.waitFor(3);
    await until(() => h!.stats.forwarded.delivered === 3, "3 delivered");
    await Bun.sleep(100); // anything extra would arrive now

    expect(sentry.violations).toEqual([]);
    expect(sentry.received).toHaveLength(3);
    const byId = new Map(sentry.received.map((r) => [r.endpoint === "store" ? eventIdOf(r.body) : (r.envelope!.headers.event_id as string), r]));

    const s = byId.get(store.eventId!)!;
    expect(s.projectId).toBe(1);
    expect(s.endpoint).toBe("store");
    expect(decode(s.body)).toBe(decode(store.body));
    expect(s.headers["content-encoding"]).toBeUndefined(); // UPSTREAM_COMPRESSION's default: none
    expect(s.headers["content-type"]).toBe("application/json");
    expect(s.headers["user-agent"]).toBe("cyclops/9.9.9-test");
    expect(s.headers["x-sentry-forwarded-for"]).toBe("203.0.113.7");
    expect(s.headers["x-forwarded-for"]).toBe("203.0.113.7");
    expect(s.auth).toEqual({ sentry_key: keyOf(1), sentry_version: "7", sentry_client: "sentry.python/2.0.0" });

    const e = byId.get(env.eventId!)!;
    expect(e.endpoint).toBe("envelope");
    expect(Buffer.from(e.body).equals(Buffer.from(env.body))).toBe(true);
    expect(e.envelope!.items.map((i) => i.headers.type)).toEqual(["event", "attachment"]);
    expect(e.headers["content-type"]).toBe("application/x-sentry-envelope");

    const a = byId.get(anonymous.eventId!)!;
    expect(a.auth.sentry_client).toBe("cyclops/9.9.9-test");
    expect(a.auth.sentry_secret).toBeUndefined(); // FORWARD_SECRET_KEY is off
    expect(a.headers["x-sentry-forwarded-for"]).toBeUndefined();

    expect(h.queue.approxItems).toBe(0);
    expect(h.stats.project(1).delivered).toBe(2);
    expect(h.stats.project(2).delivered).toBe(1);
    expect(h.latency.count).toBe(3);
    expect(h.forwarder.state()).toEqual({ upstream: "up", pausedProjects: 0 });
  });

  test("FORWARD_SECRET_KEY forwards the client's secret", async () => {
    sentry = await startFakeSentry();
    h = harness({ SENTRY_BASE_URL: sentry.url, FORWARD_SECRET_KEY: true });
    h.queue.push(storeItem(3, { auth: { publicKey: keyOf(3), secretKey: "ab".repeat(16), client: "raven-python/6.0", version: 7 } }));
    h.forwarder.start();
    const [r] = await sentry.waitFor(1);
    expect(r!.auth.sentry_secret).toBe("ab".repeat(16));
    expect(sentry.violations).toEqual([]);
  });

  test("a 200 with a body that is not JSON counts as delivered", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ status: 200, statusBody: "<html>ok</html>", statusHeaders: { "content-type": "text/html" } });
    h = harness({ SENTRY_BASE_URL: sentry.url });
    h.queue.push(storeItem(1));
    h.forwarder.start();
    await until(() => h!.stats.forwarded.delivered === 1, "delivered");
    expect(h.queue.approxItems).toBe(0);
    expect(sentry.violations).toEqual([]);
  });

  test("adaptive pacing keeps several requests in flight, within MAX_CONCURRENCY, and delivers everything once", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ latencyMs: 5, latencyPerInFlightMs: 1 });
    h = harness({ SENTRY_BASE_URL: sentry.url, PACING: "adaptive", MAX_CONCURRENCY: 8 });
    const items = Array.from({ length: 200 }, (_, i) => storeItem(1 + (i % 4)));
    for (const item of items) h.queue.push(item);
    h.forwarder.start();
    await sentry.waitFor(200, 20_000);
    await until(() => h!.queue.approxItems === 0, "queue empty");
    expect(sentry.violations).toEqual([]);
    expect(new Set(sentry.received.map((r) => eventIdOf(r.body))).size).toBe(200);
    expect(sentry.received).toHaveLength(200);
    expect(sentry.maxInFlight).toBeGreaterThan(1);
    expect(sentry.maxInFlight).toBeLessThanOrEqual(8);
  });

  test("original pacing never has more than one request in flight", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ latencyMs: 3 });
    h = harness({ SENTRY_BASE_URL: sentry.url, PACING: "original", MAX_DUMP_INTERVAL: 5 });
    for (let i = 0; i < 30; i++) h.queue.push(storeItem(1 + (i % 3)));
    h.forwarder.start();
    await sentry.waitFor(30);
    expect(sentry.maxInFlight).toBe(1);
    expect(h.latency.percentile(90)).not.toBeNull();
  });
});

describe("ordering", () => {
  test("newest first within a project, and a trickle project is served early despite a 500-item flood", async () => {
    sentry = await startFakeSentry();
    h = harness({ SENTRY_BASE_URL: sentry.url, PACING: "original" });
    const flood = Array.from({ length: 500 }, () => storeItem(1));
    for (const item of flood) h.queue.push(item);
    const trickle = [storeItem(2), storeItem(2), storeItem(2)];
    for (const item of trickle) h.queue.push(item);
    h.forwarder.start();
    await sentry.waitFor(503, 30_000);
    const order = sentry.received.map((r) => eventIdOf(r.body));
    // Round-robin: the trickle's 3 reports are among the first 6 sent.
    const trickleIds = new Set(trickle.map((t) => t.eventId));
    const positions = order.flatMap((id, i) => (trickleIds.has(id) ? [i] : []));
    expect(positions).toHaveLength(3);
    expect(Math.max(...positions)).toBeLessThan(6);
    // Newest first: the flood's last report goes first, the first one last.
    const floodOrder = order.filter((id) => !trickleIds.has(id));
    expect(floodOrder[0]).toBe(flood[499]!.eventId!);
    expect(floodOrder[499]).toBe(flood[0]!.eventId!);
    expect(trickle.map((t) => t.eventId).reverse()).toEqual(order.filter((id) => trickleIds.has(id)));
    expect(sentry.violations).toEqual([]);
  });
});

describe("outages", () => {
  test("connection refused, then 503s: nothing is lost and everything queued meanwhile is delivered once", async () => {
    const probe = await startFakeSentry();
    const port = probe.port;
    await probe.stop(); // nothing listens on the port now: connection refused
    h = harness({ SENTRY_BASE_URL: `http://127.0.0.1:${port}` });
    const first = Array.from({ length: 5 }, (_, i) => storeItem(1 + (i % 2)));
    for (const item of first) h.queue.push(item);
    h.forwarder.start();
    await until(() => h!.forwarder.state().upstream === "down", "upstream down");
    // More reports arrive during the outage.
    const during = Array.from({ length: 5 }, (_, i) => envelopeItem(1 + (i % 2)));
    for (const item of during) {
      h.queue.push(item);
      h.forwarder.notify();
    }
    await until(() => h!.stats.forwarded.retried >= 2, "a few failed probes");
    expect(h.stats.forwarded.delivered).toBe(0);
    expect(h.queue.approxItems).toBe(10);

    sentry = await startFakeSentry({ port });
    sentry.setBehaviour({ fail5xx: 3 });
    await sentry.waitFor(10, 20_000);
    await until(() => h!.queue.approxItems === 0, "queue empty");
    await Bun.sleep(100);
    expect(sentry.violations).toEqual([]);
    const ids = sentry.received.map((r) => (r.endpoint === "store" ? eventIdOf(r.body) : (r.envelope!.headers.event_id as string)));
    expect(ids.sort()).toEqual([...first, ...during].map((i) => i.eventId!).sort());
    expect(sentry.attempts.filter((a) => a.status === 503)).toHaveLength(3);
    expect(h.stats.forwarded.delivered).toBe(10);
    expect(h.stats.forwarded.rejected + h.stats.forwarded.expired).toBe(0);
    expect(h.forwarder.state().upstream).toBe("up");
    const warnings = h.log.lines.filter((l) => l.msg.startsWith("Sentry unreachable"));
    expect(warnings).toHaveLength(1);
  });

  test("reset connections and a hanging Sentry (timeout) are retried", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ reset: 2 });
    h = harness({ SENTRY_BASE_URL: sentry.url, UPSTREAM_TIMEOUT: 0.3 });
    const item = storeItem(1);
    h.queue.push(item);
    h.forwarder.start();
    await until(() => h!.stats.forwarded.delivered === 1, "delivered after resets");
    expect(sentry.attempts.filter((a) => a.status === "reset")).toHaveLength(2);
    expect(h.stats.forwarded.retried).toBe(2);

    sentry.setBehaviour({ latencyMs: 1000 });
    const slow = storeItem(2);
    h.queue.push(slow);
    h.forwarder.notify();
    await until(() => h!.stats.forwarded.retried === 3, "timed out once");
    expect(h.forwarder.state().upstream).toBe("down");
    sentry.setBehaviour({ latencyMs: 0 });
    await until(() => h!.stats.forwarded.delivered === 2, "delivered after the timeout");
    expect(sentry.violations).toEqual([]);
  });

  test("a SENTRY_BASE_URL that does not resolve: reports stay queued, nothing throws, stop returns what is left", async () => {
    h = harness({ SENTRY_BASE_URL: "http://cyclops-upstream.invalid" });
    for (let i = 0; i < 4; i++) h.queue.push(storeItem(1));
    h.forwarder.start();
    await until(() => h!.forwarder.state().upstream === "down", "upstream down", 15_000);
    expect(h.queue.approxItems).toBe(4);
    expect(await h.forwarder.stop(0.2)).toBe(4);
  });
});

describe("Sentry's refusals", () => {
  test("429 with Retry-After pauses that project only; the others keep flowing", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ rateLimit: { projectId: 1, retryAfter: 2 } });
    h = harness({ SENTRY_BASE_URL: sentry.url });
    const a = [storeItem(1), storeItem(1), storeItem(1)];
    const b = Array.from({ length: 20 }, () => storeItem(2));
    for (const item of [...a, ...b]) h.queue.push(item);
    h.forwarder.start();
    await until(() => h!.stats.forwarded.retried === 1, "a 429 settled");
    const limit = h.forwarder.rateLimitFor(1, "error");
    expect(limit).not.toBeNull();
    expect(limit!.retryAfter).toBeGreaterThanOrEqual(1);
    expect(limit!.header).toMatch(/^\d+::key$/);
    expect(h.forwarder.rateLimitFor(2, "error")).toBeNull();

    await sentry.waitFor(23, 15_000);
    await until(() => h!.stats.forwarded.delivered === 23, "23 delivered");
    const projects = sentry.received.map((r) => r.projectId);
    // Every B report went through before any A report: A waited, B did not.
    expect(projects.lastIndexOf(2)).toBeLessThan(projects.indexOf(1));
    expect(sentry.attempts.filter((x) => x.status === 429)).toHaveLength(1);
    expect(h.stats.forwarded.retried).toBe(1);
    expect(sentry.violations).toEqual([]);
    expect(h.stats.discarded.size).toBe(0); // a 429 is not reported as a discard
  });

  test("X-Sentry-Rate-Limits limits only the named categories", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ rateLimit: { projectId: 4, retryAfter: 1, header: "30:transaction:organization:quota_exceeded, 1:error:project" } });
    h = harness({ SENTRY_BASE_URL: sentry.url });
    h.queue.push(storeItem(4));
    h.forwarder.start();
    await until(() => h!.stats.forwarded.retried === 1, "a 429 settled");
    const tx = h.forwarder.rateLimitFor(4, "transaction");
    expect(tx!.retryAfter).toBeGreaterThan(25);
    expect(tx!.header).toContain("transaction:organization:quota_exceeded");
    expect(h.forwarder.rateLimitFor(4, "session")).toBeNull();
    await sentry.waitFor(1, 10_000);
    await until(() => h!.stats.forwarded.delivered === 1, "delivered after the error limit");
  });

  test("a limit announced on a 200 holds that project's later reports of the category until it ends", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ status: 200, statusBody: "{}", statusHeaders: { "x-sentry-rate-limits": "2:error:key" } });
    h = harness({ SENTRY_BASE_URL: sentry.url });
    h.queue.push(storeItem(8));
    h.forwarder.start();
    await until(() => h!.stats.forwarded.delivered === 1, "first delivered");
    expect(h.forwarder.rateLimitFor(8, "error")).not.toBeNull();
    sentry.setBehaviour({ status: undefined });
    h.queue.push(storeItem(8));
    h.queue.push(storeItem(9));
    h.forwarder.notify();
    await sentry.waitFor(1);
    expect(sentry.received[0]!.projectId).toBe(9); // project 8 is held, 9 is not
    expect(h.forwarder.state().pausedProjects).toBe(1);
    await sentry.waitFor(2);
    expect(sentry.received[1]!.projectId).toBe(8);
    expect(sentry.attempts.filter((a) => a.status === 429)).toHaveLength(0);
    await until(() => h!.stats.forwarded.delivered === 3, "3 delivered");
  });

  test("400 is dropped, counted as rejected, reported as send_error and logged once", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ status: 400, statusBody: JSON.stringify({ detail: "invalid event envelope", causes: ["x"] }) });
    h = harness({ SENTRY_BASE_URL: sentry.url });
    for (let i = 0; i < 3; i++) h.queue.push(storeItem(5));
    const tx = new TextEncoder().encode('{}\n{"type":"transaction"}\n{"type":"transaction","transaction":"/"}\n');
    h.queue.push({ ...envelopeItem(5), body: tx, eventId: null });
    h.forwarder.start();
    await until(() => h!.stats.forwarded.rejected === 4, "4 rejected");
    await until(() => h!.queue.approxItems === 0, "queue empty");
    expect(sentry.attempts).toHaveLength(4); // never retried
    expect(h.stats.discarded.get("5|send_error|error")).toBe(3);
    expect(h.stats.discarded.get("5|send_error|transaction")).toBe(1);
    const warns = h.log.lines.filter((l) => l.level === "warn" && l.msg.includes("invalid event envelope"));
    expect(warns).toHaveLength(1);
    expect(h.forwarder.state().upstream).toBe("up");
  });

  test("a redirect is not followed: rejected with a clear log", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ status: 302, statusBody: "", statusHeaders: { location: "https://sentry.example.com/api/1/store/" } });
    h = harness({ SENTRY_BASE_URL: sentry.url });
    h.queue.push(storeItem(1));
    h.forwarder.start();
    await until(() => h!.stats.forwarded.rejected === 1, "rejected");
    expect(sentry.attempts).toHaveLength(1);
    expect(h.log.lines.some((l) => l.level === "warn" && l.msg.includes("redirect to https://sentry.example.com"))).toBe(true);
  });

  test("a key Sentry does not know (403) is rejected without blocking other projects", async () => {
    sentry = await startFakeSentry({ keys: { 1: [keyOf(1)] } });
    h = harness({ SENTRY_BASE_URL: sentry.url });
    h.queue.push(storeItem(7));
    h.queue.push(storeItem(1));
    h.forwarder.start();
    await sentry.waitFor(1);
    await until(() => h!.stats.forwarded.rejected === 1, "rejected");
    expect(sentry.received[0]!.projectId).toBe(1);
    expect(sentry.violations).toEqual([]);
  });
});

describe("expiry", () => {
  test("an item older than MAX_ITEM_AGE is dropped unsent and counted", async () => {
    sentry = await startFakeSentry();
    h = harness({ SENTRY_BASE_URL: sentry.url, MAX_ITEM_AGE: 60 });
    h.queue.push(storeItem(1, { receivedAt: Date.now() - 61_000 }));
    const fresh = storeItem(1);
    h.queue.push(fresh);
    h.forwarder.start();
    await until(() => h!.stats.forwarded.expired === 1 && h!.stats.forwarded.delivered === 1, "one expired, one delivered");
    expect(sentry.received.map((r) => eventIdOf(r.body))).toEqual([fresh.eventId!]);
    expect(h.stats.discarded.get("1|network_error|error")).toBe(1);
    expect(h.queue.approxItems).toBe(0);
  });

  test("an item that failed more than MAX_RETRIES times is dropped and counted", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ fail5xx: 2 });
    h = harness({ SENTRY_BASE_URL: sentry.url, MAX_RETRIES: 1 });
    h.queue.push(storeItem(1));
    h.forwarder.start();
    await until(() => h!.stats.forwarded.expired === 1, "expired");
    expect(sentry.attempts.map((a) => a.status)).toEqual([503, 503]);
    expect(sentry.received).toHaveLength(0);
    expect(h.stats.forwarded.retried).toBe(2);
    expect(h.stats.discarded.get("1|network_error|error")).toBe(1);
    expect(h.queue.approxItems).toBe(0);
  });
});

describe("stop", () => {
  test("drains the memory queue before returning", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ latencyMs: 2 });
    h = harness({ SENTRY_BASE_URL: sentry.url });
    for (let i = 0; i < 20; i++) h.queue.push(storeItem(1 + (i % 2)));
    h.forwarder.start();
    expect(await h.forwarder.stop(10)).toBe(0);
    expect(sentry.received).toHaveLength(20);
  });

  test("gives up at the deadline and returns how many are left; in-flight requests go back to the queue", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ latencyMs: 5000 });
    h = harness({ SENTRY_BASE_URL: sentry.url });
    for (let i = 0; i < 3; i++) h.queue.push(storeItem(1));
    h.forwarder.start();
    await until(() => sentry!.inFlight === 1, "one request in flight");
    expect(await h.forwarder.stop(0.2)).toBe(3);
    expect(h.stats.inFlight).toBe(0);
  });
});

/**
 * Redis goes away under load and comes back, cyclops keeps running throughout:
 * while Redis is down every report is answered 429 with Retry-After and X-Sentry-Rate-Limits, and /healthcheck says 503;
 * once it is back (same port, same AOF) cyclops reconnects by itself, answers 200 again, and
 * every event it ever acknowledged, before or after, reaches Sentry: nothing acknowledged is lost.
 *
 * Uses a private redis-server (AOF, fsync on every write) on a free port, never the shared one.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import { uniqueName } from "../helpers/services.ts";
import {
  expectAlive,
  FAKE_SENTRY_KEYS,
  Fixture,
  isRefusal,
  freePort,
  newEventId,
  redisQueueItems,
  runLoad,
  sendEvent,
  startRedisServer,
  waitForDelivery,
  waitUntil,
  type RedisServer,
  type SendResult,
} from "./helpers.ts";

const haveRedisServer = Bun.which("redis-server") !== null;
const required = process.env.CYCLOPS_REQUIRE_SERVICES === "1";
if (!haveRedisServer && !required) console.warn("[skip] redis restart: redis-server is not installed (run .ci/services.sh)");

(haveRedisServer || required ? describe : describe.skip)("Redis stopped and restarted under load", () => {
  let fake: FakeSentry;
  let redis: RedisServer | null = null;
  const fixture = new Fixture();

  beforeAll(async () => {
    fake = await startFakeSentry({ keys: FAKE_SENTRY_KEYS });
  });
  afterAll(async () => {
    await fixture.stopAll();
    await redis?.stop();
    await fixture.close();
    await fake.stop();
  });

  test("429 + Retry-After + X-Sentry-Rate-Limits while down, recovery without a restart, nothing acknowledged lost", async () => {
    expect(haveRedisServer).toBe(true);
    const port = freePort();
    const dir = fixture.tempDir();
    const prefix = uniqueName("cyclops_e2e_restart");
    redis = await startRedisServer(port, dir);
    // Sentry slower than the load, so a backlog sits in Redis when it stops.
    fake.setBehaviour({ latencyMs: 100 });
    const g = await fixture.cyclops({
      STORAGE: "redis",
      CACHE_IMPLEMENTATION_CLASS: "redis",
      REDIS_PORT: port,
      REDIS_KEY_PREFIX: prefix,
      REDIS_LEASE_TIME: 2,
      UPSTREAM_TIMEOUT: 1,
      SENTRY_BASE_URL: fake.url,
      PACING: "adaptive",
      MAX_CONCURRENCY: 8,
    });
    const health = async () => {
      const res = await fetch(`${g.url}/healthcheck`);
      return { status: res.status, text: await res.text() };
    };
    expect((await health()).status).toBe(200);

    type Phase = "before" | "down" | "after";
    let phase: Phase = "before";
    const tally: Record<Phase, Record<string, number>> = { before: {}, down: {}, after: {} };
    const refusalsWithoutHeaders: SendResult[] = [];
    let stopLoad = false;
    const load = runLoad({
      total: Number.POSITIVE_INFINITY,
      concurrency: 8,
      target: () => g.url,
      shouldStop: () => stopLoad,
      backoffMs: 20,
      onResult: (r) => {
        const t = tally[phase];
        t[r.status] = (t[r.status] ?? 0) + 1;
        if (r.status === 429 && !isRefusal(r)) refusalsWithoutHeaders.push(r);
      },
    });
    const ok = (p: Phase) => tally[p]["200"] ?? 0;

    await waitUntil(
      () => (expectAlive(g), ok("before") >= 300),
      20_000,
      () => `only ${ok("before")} accepted before the stop: ${JSON.stringify(tally)}`,
    );
    const backlogAtStop = ok("before") - fake.received.length;
    expect(await redis.stop()).toBe(0); // SIGTERM: Redis flushes its AOF and exits
    phase = "down";

    await waitUntil(
      async () => (expectAlive(g), (await health()).status === 503),
      10_000,
      () => "/healthcheck kept answering 200 with Redis down",
    );
    const down = await health();
    expect(down.text).toContain("Redis");
    const refused = await sendEvent(g.url, newEventId(), "while Redis is down");
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toMatch(/^\d+$/);
    expect(refused.rateLimits).toMatch(/^\d+:error:organization:storage_unavailable$/);
    // A while of load against the outage: 429s, and cyclops stays up.
    await waitUntil(
      () => (expectAlive(g), (tally.down["429"] ?? 0) >= 50),
      10_000,
      () => `few 429s while down: ${JSON.stringify(tally.down)}`,
    );

    redis = await startRedisServer(port, dir);
    // The restarted Redis read the backlog back from its AOF.
    const keptInRedis = await redisQueueItems(prefix, { host: "127.0.0.1", port });
    expect(keptInRedis).toBeGreaterThan(0);
    phase = "after";
    fake.setBehaviour({ latencyMs: 0 });
    await waitUntil(
      async () => (await health()).status === 200,
      20_000,
      () => `/healthcheck never recovered: ${JSON.stringify(tally.after)}`,
    );
    await waitUntil(
      () => (expectAlive(g), ok("after") >= 300),
      20_000,
      () => `only ${ok("after")} accepted after the restart: ${JSON.stringify(tally.after)}`,
    );
    stopLoad = true;
    const result = await load;
    const lastId = newEventId();
    expect((await sendEvent(g.url, lastId, "after the restart")).status).toBe(200);
    const acked = [...result.acked, lastId];

    const d = await waitForDelivery(acked, fake, 30_000);
    console.log(
      `[redis-restart] ${result.sent + 2} sent, ${acked.length} acknowledged (${ok("before")} before, ${ok("down")} during the stop, ${ok("after")} after), ` +
        `${backlogAtStop} queued and undelivered at the stop (${keptInRedis} in Redis after its restart), ${tally.down["429"] ?? 0} answered 429 while down, ` +
        `${d.delivered} delivered, ${d.missing.length} missing, ${d.duplicates} duplicates`,
    );
    expect(d.missing).toEqual([]);
    expect(backlogAtStop).toBeGreaterThan(0); // the AOF had undelivered items to keep
    // cyclops never crashed nor dropped a connection: every answer was a 200 or a 429 with both headers.
    const other = Object.keys(result.statuses).filter((s) => s !== "200" && s !== "429");
    expect({ other, errors: result.errors }).toEqual({ other: [], errors: [] });
    expect(refusalsWithoutHeaders).toEqual([]);
    expectAlive(g);
    expect(fake.violations).toEqual([]);
  }, 120_000);
});

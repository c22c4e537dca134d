/**
 * Delivery at full speed where it matters most: the SIGTERM drain (gateway.stop() is what `serve`
 * runs on SIGTERM) and a forwarder whose event loop is kept busy.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config/load.ts";
import { defaults } from "../../src/config/schema.ts";
import { startGateway, type Gateway } from "../../src/gateway/gateway.ts";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import { eventIdOf, harness, storeItem, type Harness } from "./setup.ts";

let sentry: FakeSentry | null = null;
let gateway: Gateway | null = null;
let h: Harness | null = null;

afterEach(async () => {
  await gateway?.stop();
  await h?.forwarder.stop(0);
  await sentry?.stop();
  gateway = null;
  h = null;
  sentry = null;
});

async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

describe("the SIGTERM drain", () => {
  test("5,000 queued reports, Sentry answering in 5 ms: all delivered before the stop returns, with the default SHUTDOWN_TIMEOUT and pacing", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ latencyMs: 5 });
    const { config } = loadConfig({ env: {}, flags: { BIND: "127.0.0.1", PORT: 0, SENTRY_BASE_URL: sentry.url, CLIENT_REPORTS: false } });
    expect(config.SHUTDOWN_TIMEOUT).toBe(defaults().SHUTDOWN_TIMEOUT);
    expect(config.PACING).toBe("adaptive");
    gateway = await startGateway(config);
    // Pushed in one synchronous run, so the forwarder cannot send any before the stop begins.
    for (let i = 0; i < 5000; i++) gateway.deps.queue.push(storeItem(1 + (i % 7)));
    expect(gateway.deps.queue.approxItems).toBe(5000);
    const g = gateway;
    gateway = null;
    await g.stop();
    // Whatever the drain did not deliver within SHUTDOWN_TIMEOUT would be left in the queue and lost.
    expect(g.deps.queue.approxItems).toBe(0);
    expect(sentry.received).toHaveLength(5000);
    expect(new Set(sentry.received.map((r) => eventIdOf(r.body))).size).toBe(5000);
    expect(sentry.violations).toEqual([]);
    // It drained with many requests in flight, not one at a time.
    expect(sentry.maxInFlight).toBeGreaterThan(8);
  });
});

describe("a busy event loop", () => {
  test("the limit still opens to MAX_CONCURRENCY against a fast Sentry while the loop is kept busy", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ latencyMs: 1 });
    h = harness({ SENTRY_BASE_URL: sentry.url, MAX_CONCURRENCY: 16, MAX_QUEUE_ITEMS: 100_000 });
    for (let i = 0; i < 20_000; i++) h.queue.push(storeItem(1 + (i % 5)));
    // Stand-in for ingest: every 10 ms the loop is blocked for 4 ms.
    const busy = setInterval(() => {
      const end = performance.now() + 4;
      while (performance.now() < end) {}
    }, 10);
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, h!.stats.inFlight)), 1);
    try {
      h.forwarder.start();
      await until(() => most === 16 || h!.queue.approxItems === 0, "the limit to open");
    } finally {
      clearInterval(busy);
      clearInterval(watch);
    }
    expect(most).toBe(16);
    expect(sentry.violations).toEqual([]);
  });
});

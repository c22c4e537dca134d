/**
 * A flood on one project (MAX_CACHE_USES 1, 300 repeats, ALERT_MIN_DROPS_PER_MINUTE 10,
 * ALERT_RESOLVE_SECONDS 5): the webhook receives exactly one start and, after the flood,
 * exactly one resolve; also with three instances sharing Redis counters.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { Config } from "../../src/config/schema.ts";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { describeWith, uniqueName } from "../helpers/services.ts";
import { until } from "../helpers/wait.ts";
import { deleteRedisPrefix } from "../storage/redis-cleanup.ts";
import { PROJECT, PUBLIC_KEY, sendError, startWebhook, type Webhook } from "./webhook.ts";

const REPEATS = 300;

function settings(fake: FakeSentry, hook: Webhook, extra: Partial<Config> = {}): Partial<Config> {
  return {
    PROJECT_KEYS: [[PROJECT, PUBLIC_KEY, null]],
    SENTRY_BASE_URL: fake.url,
    MAX_CACHE_USES: 1,
    URL_CACHE_EXPIRATION: 60,
    ALERTS: [{ url: hook.url, format: "json" }],
    ALERT_MIN_DROPS_PER_MINUTE: 10,
    ALERT_RESOLVE_SECONDS: 5,
    ...extra,
  };
}

async function flood(targets: TestGateway[]): Promise<void> {
  for (let i = 0; i < REPEATS; i += 30) {
    const batch = Array.from({ length: 30 }, (_, j) => sendError(targets[(i + j) % targets.length]!.url, "<script>alert('flood')</script>"));
    for (const r of await Promise.all(batch)) expect(r.status).toBe(200);
  }
}

/** One start now, one resolve after the quiet time, and nothing more for a while after. */
async function expectOneOfEach(hook: Webhook): Promise<void> {
  await until("the start alert", () => hook.events("start").length > 0, 5000);
  await until("the resolve alert", () => hook.events("resolve").length > 0, 20_000);
  await Bun.sleep(2500);
  expect(hook.messages.map((m) => m.event)).toEqual(["start", "resolve"]);
  const [start, resolve] = hook.messages;
  expect(start).toMatchObject({ event: "start", project: PROJECT, reason: "flood", category: "error" });
  expect(start!.top).toEqual([{ title: "<script>alert('flood')</script>", count: expect.any(Number) }]);
  expect(resolve).toMatchObject({ event: "resolve", project: PROJECT, reason: "flood", dropped: REPEATS - 1 });
}

describe("one instance", () => {
  let fake: FakeSentry;
  let hook: Webhook;
  let g: TestGateway;
  afterAll(async () => {
    await g?.stop();
    await fake?.stop();
    hook?.stop();
  });

  test("a flood: exactly one start and one resolve", async () => {
    fake = await startFakeSentry({ keys: { [PROJECT]: [PUBLIC_KEY] } });
    hook = startWebhook();
    g = await startTestGateway(settings(fake, hook), "in-process");
    await flood([g]);
    await expectOneOfEach(hook);
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(metrics).toContain('cyclops_alerts_total{sink="127.0.0.1:');
    expect(metrics).toMatch(/cyclops_alerts_total\{sink="[^"]+",outcome="sent"\} 2/);
  }, 40_000);
});

await describeWith("redis", "three instances sharing Redis counters", () => {
  let fake: FakeSentry;
  let hook: Webhook;
  const nodes: TestGateway[] = [];
  const prefix = uniqueName("cyclops_alerts_farm");
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await fake?.stop();
    hook?.stop();
    await deleteRedisPrefix(prefix);
  });

  test("a flood spread over three instances: still exactly one start and one resolve", async () => {
    fake = await startFakeSentry({ keys: { [PROJECT]: [PUBLIC_KEY] } });
    hook = startWebhook();
    const farm = settings(fake, hook, { STORAGE: "redis", CACHE_IMPLEMENTATION_CLASS: "redis", REDIS_KEY_PREFIX: prefix });
    for (let i = 0; i < 3; i++) nodes.push(await startTestGateway(farm, "in-process"));
    await flood(nodes);
    await expectOneOfEach(hook);
    // Every instance saw its share of the flood as an episode of its own.
    for (const n of nodes) expect(n.gateway!.deps.stats.dropped.flood).toBeGreaterThanOrEqual(10);
    // The status page lists the farm's three members.
    const status = (await (await fetch(`${nodes[0]!.url}/status?format=json`)).json()) as { farm: Array<{ id: string }> | null };
    expect(status.farm?.length).toBe(3);
  }, 40_000);
});

import { expect, test } from "bun:test";
import { Alerts, type UpstreamState } from "../../src/alerts/alerts.ts";
import { silentLogger } from "../../src/log.ts";
import { until } from "../helpers/wait.ts";

test("Sentry unreachable for over a minute: one alert, and one when it is back; a shorter outage: none", async () => {
  let clock = 1_700_000_000_000;
  let state: UpstreamState = "up";
  const sent: Array<Record<string, unknown>> = [];
  const fetchImpl = (async (_url: string, init: RequestInit) => {
    sent.push(JSON.parse(String(init.body)));
    return new Response("ok");
  }) as unknown as typeof fetch;
  const alerts = new Alerts({
    config: { ALERTS: [{ url: "http://hook.example/", format: "json", projects: [99] }], ALERT_MIN_DROPS_PER_MINUTE: 10, ALERT_RESOLVE_SECONDS: 5 },
    log: silentLogger(),
    instance: "t",
    upstream: () => state,
    now: () => clock,
    delivery: { fetchImpl },
  });
  const run = async (seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      await alerts.tick(clock);
      clock += 1000;
    }
  };
  state = "down";
  await run(30);
  state = "up";
  await run(5);
  state = "down";
  await run(59);
  expect(sent).toEqual([]);
  await run(3);
  await until("the outage alert", () => sent.length === 1);
  state = "up";
  await run(3);
  await until("the back alert", () => sent.length === 2);
  // The sink's project filter does not hold back outage alerts.
  expect(sent.map((m) => m.event)).toEqual(["sentry_unreachable", "sentry_reachable"]);
  expect(sent[1]).toMatchObject({ down_seconds: 62 });
});

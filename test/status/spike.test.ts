/**
 * Spike protection's episodes on the status page, and its drops as a drop episode: with enforce
 * and a floor of 10 a minute, 60 reports of one error start a spike episode, which
 * /status lists, and its drops start an alert episode of reason "spike".
 */
import { afterAll, expect, test } from "bun:test";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { until } from "../helpers/wait.ts";
import { PROJECT, PUBLIC_KEY, sendError } from "../alerts/webhook.ts";

let fake: FakeSentry | undefined;
let g: TestGateway | undefined;
afterAll(async () => {
  await g?.stop();
  await fake?.stop();
});

test("a spike shows on /status and as a drop episode", async () => {
  fake = await startFakeSentry({ keys: { [PROJECT]: [PUBLIC_KEY] } });
  g = await startTestGateway(
    {
      PROJECT_KEYS: [[PROJECT, PUBLIC_KEY, null]],
      SENTRY_BASE_URL: fake.url,
      SPIKE_PROTECTION: "enforce",
      SPIKE_MIN_PER_MINUTE: 10,
      ALERT_MIN_DROPS_PER_MINUTE: 5,
      MAX_CACHE_USES: 1000,
    },
    "in-process",
  );
  // One error over and over (each new error group would pass by the novelty lane).
  for (let i = 0; i < 60; i++) expect((await sendError(g.url, "the same error")).status).toBe(200);
  expect(g.gateway!.deps.stats.dropped.spike).toBeGreaterThan(0);
  await until("the spike episode on the page", async () => (await (await fetch(`${g!.url}/status?fragment=1`)).text()).includes(`<tr data-spike="${PROJECT}">`), 5000);
  const json = (await (await fetch(`${g.url}/status?format=json`)).json()) as {
    projects: Array<{ id: number; episode: { reason: string } | null; droppedBy: Record<string, number> }>;
  };
  const p = json.projects.find((x) => x.id === PROJECT)!;
  expect(p.episode?.reason).toBe("spike");
  expect(p.droppedBy.spike).toBe(g.gateway!.deps.stats.dropped.spike);
});

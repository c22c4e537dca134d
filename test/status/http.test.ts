/**
 * /status of a running gateway: guarded by STATS_TOKEN (header or ?token=), the page, its live
 * fragment and JSON; reports sent show in project 1's row; no key or secret is ever on it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { until } from "../helpers/wait.ts";
import { PROJECT, PUBLIC_KEY, sendError } from "../alerts/webhook.ts";

const TOKEN = "status-token-5f3e2a";
const SECRET = "5ec2e7000000000000000000000005ec";

describe("/status", () => {
  let fake: FakeSentry;
  let g: TestGateway;
  beforeAll(async () => {
    fake = await startFakeSentry({ keys: { [PROJECT]: [PUBLIC_KEY] } });
    g = await startTestGateway(
      { PROJECT_KEYS: [[PROJECT, PUBLIC_KEY, SECRET]], SENTRY_BASE_URL: fake.url, STATS_TOKEN: TOKEN, MAX_CACHE_USES: 2, URL_CACHE_EXPIRATION: 60 },
      "in-process",
    );
  });
  afterAll(async () => {
    await g?.stop();
    await fake?.stop();
  });

  test("without the token: 401; with it as a header or in the query: the page", async () => {
    expect((await fetch(`${g.url}/status`)).status).toBe(401);
    expect((await fetch(`${g.url}/status?token=wrong-token`)).status).toBe(401);
    const byHeader = await fetch(`${g.url}/status`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(byHeader.status).toBe(200);
    expect(byHeader.headers.get("content-type")).toContain("text/html");
    expect((await fetch(`${g.url}/status?token=${TOKEN}`)).status).toBe(200);
  });

  test("reports sent show in project 1's row, dropped ones by reason; keys never appear", async () => {
    for (let i = 0; i < 5; i++) expect((await sendError(g.url, "<b>same</b>")).status).toBe(200);
    await until(
      "the row to count them",
      async () => {
        const json = (await (await fetch(`${g.url}/status?format=json&token=${TOKEN}`)).json()) as {
          projects: Array<{ id: number; accepted: number; dropped: number }>;
        };
        const p = json.projects.find((x) => x.id === PROJECT);
        return p?.accepted === 2 && p.dropped === 3;
      },
      5000,
    );
    const fragment = await (await fetch(`${g.url}/status?fragment=1&token=${TOKEN}`)).text();
    expect(fragment.startsWith('<p class="meta">')).toBe(true);
    expect(fragment).toMatch(
      /<tr data-project="1"><th scope="row">1<\/th><td data-metric="accepted">2<\/td><td data-metric="delivered">\d<\/td><td data-metric="dropped">3<\/td><td>flood 3<\/td>/,
    );
    const page = await (await fetch(`${g.url}/status?token=${TOKEN}`)).text();
    for (const secret of [PUBLIC_KEY, SECRET]) expect(page).not.toContain(secret);
  });
});

/**
 * The status page in Chromium (Debian's, through playwright-core): opened once, it shows project
 * 1's delivered count up by 10 within 5 s of 10 reports being sent, without a reload; a flood
 * whose message is a <script> shows the title as text and runs nothing.
 * With STATUS_SCREENSHOT=path the page is also saved as a PNG (docs/status.png is made so).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import type { Browser } from "playwright-core";
import { launchChromium } from "../sdk/browser-page.ts";
import { CHROMIUM } from "../sdk/helpers.ts";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { describeWithTool } from "../helpers/services.ts";
import { until } from "../helpers/wait.ts";
import { PROJECT, PUBLIC_KEY, sendError } from "../alerts/webhook.ts";

const TOKEN = "browser-status-token";
const SCRIPT_TITLE = "<script>window.__pwned = 1</script>";
const OTHER = { 2: "b2000000000000000000000000000002", 3: "c3000000000000000000000000000003" } as const;

describeWithTool("chromium", existsSync(CHROMIUM), "the status page in Chromium", () => {
  let browser: Browser;
  let fake: FakeSentry;
  let g: TestGateway;
  beforeAll(async () => {
    fake = await startFakeSentry({ keys: { [PROJECT]: [PUBLIC_KEY], 2: [OTHER[2]], 3: [OTHER[3]] } });
    g = await startTestGateway(
      {
        PROJECT_KEYS: [
          [PROJECT, PUBLIC_KEY, null],
          [2, OTHER[2], null],
          [3, OTHER[3], null],
        ],
        SENTRY_BASE_URL: fake.url,
        STATS_TOKEN: TOKEN,
        MAX_CACHE_USES: 1,
        URL_CACHE_EXPIRATION: 60,
        ALERT_MIN_DROPS_PER_MINUTE: 5,
        PACING: "adaptive",
      },
      "in-process",
    );
    browser = await launchChromium();
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await g?.stop();
    await fake?.stop();
  });

  test("live counts without reload; a <script> title is text", async () => {
    // A flood of one <script> error: an episode on project 1, whose title the page lists.
    for (let i = 0; i < 8; i++) expect((await sendError(g.url, SCRIPT_TITLE)).status).toBe(200);
    for (const [id, key] of Object.entries(OTHER)) {
      for (let i = 0; i < 4; i++) {
        await fetch(`${g.url}/api/${id}/store/`, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-Sentry-Auth": `Sentry sentry_version=7, sentry_key=${key}` },
          body: JSON.stringify({ message: `project ${id} error ${i}` }),
        });
      }
    }
    await until("the episode", () => g.gateway!.deps.stats.dropped.flood >= 7);
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${g.url}/status?token=${TOKEN}`);
    const delivered = page.locator('[data-project="1"] [data-metric="delivered"]');
    await until("project 1's row", async () => (await delivered.count()) === 1, 5000);
    await until("the episode on the page", async () => (await page.locator("[data-episode='1'] .title").count()) > 0, 5000);
    // What was sent so far is delivered and shown: 1 of the flood, 4 + 4 of the other projects.
    await fake.waitFor(9, 10_000);
    await until("the page to show project 1's first delivery", async () => (await delivered.textContent()) === "1", 5000);
    const before = 1;

    for (let i = 0; i < 10; i++) expect((await sendError(g.url, `distinct error ${i}`)).status).toBe(200);
    const t0 = Date.now();
    await until("delivered + 10 on the open page", async () => Number(await delivered.textContent()) === before + 10, 5000);
    console.log(`[status] delivered count up by 10 on the page ${Date.now() - t0} ms after the last report was answered`);

    expect(await page.locator("[data-episode='1'] .title").first().textContent()).toBe(SCRIPT_TITLE);
    expect(await page.evaluate("typeof window.__pwned")).toBe("undefined");
    expect(errors).toEqual([]);
    if (process.env.STATUS_SCREENSHOT) await page.screenshot({ path: process.env.STATUS_SCREENSHOT, fullPage: true });
    await page.close();
  }, 60_000);
});

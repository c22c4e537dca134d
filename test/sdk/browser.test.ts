/**
 * Browser SDKs, unmodified, in Chromium, on a page served from another origin than cyclops, so
 * CORS is really exercised: raven-js 3.27 (store endpoint, auth in the query) and @sentry/browser
 * (envelopes, auth in the query; and in tunnel mode, auth only in the envelope header's dsn).
 * The SDKs must be able to read cyclops's 200 answers cross-origin, and every report must reach
 * Sentry exactly once, byte for byte as the browser sent it.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import type { Browser } from "playwright-core";
import { describeWithTool } from "../helpers/services.ts";
import { parseEnvelope } from "../helpers/fake-sentry.ts";
import { launchChromium, runPage, startPageServer, type NetworkRecord, type PageServer } from "./browser-page.ts";
import {
  CHROMIUM,
  compareDeliveries,
  envelopeEventIds,
  NO_DELIVERY_PROBLEMS,
  PROJECT_ID,
  PUBLIC_KEY,
  receivedEventIds,
  SDK_TEST_TIMEOUT,
  startSdkEnv,
  useSdkEnv,
  text,
  type SdkEnv,
} from "./helpers.ts";

const ERRORS = 3;

let browser: Browser;
let pages: PageServer;
describeWithTool("chromium", existsSync(CHROMIUM), "browser SDKs in Chromium", () => {
  beforeAll(async () => {
    pages = await startPageServer();
    browser = await launchChromium();
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await pages?.stop();
  });

  /** The page's origin must differ from cyclops's, or this suite proves nothing about CORS. */
  function crossOrigin(env: SdkEnv): void {
    expect(new URL(pages.url).origin).not.toBe(new URL(env.gateway.url).origin);
  }

  const statuses = (reqs: NetworkRecord[]) => reqs.map((r) => r.status ?? r.failure);

  describe("raven-js 3.27 in Chromium through cyclops", () => {
    const env = useSdkEnv();

    test(
      "cross-origin store posts are answered 200 with CORS and delivered exactly once",
      async () => {
        crossOrigin(env);
        const page = `${pages.url}/raven-js.html?errors=${ERRORS}&dsn=${encodeURIComponent(env.dsn())}`;
        const run = await runPage<{ success: string[]; failure: string[]; eventIds: string[] }>(browser, page, env.gateway.url);
        const why = `console: ${run.console.join("\n")}`;
        expect(run.requests.length, why).toBe(ERRORS + 1);
        for (const r of run.requests) {
          expect(r.method).toBe("POST");
          expect(new URL(r.url).pathname).toBe(`/api/${PROJECT_ID}/store/`);
          expect(new URL(r.url).searchParams.get("sentry_key")).toBe(PUBLIC_KEY);
          expect(r.responseHeaders["access-control-allow-origin"]).toBe("*");
        }
        expect(statuses(run.requests)).toEqual(run.requests.map(() => 200));
        // raven-js reads the answer with fetch: success events only when CORS let it see the 200.
        expect(run.result.failure, why).toEqual([]);
        expect(run.result.success.length).toBe(ERRORS + 1);

        const sent = run.requests.map((r) => r.body);
        await env.fake.waitFor(sent.length, 30_000);
        const doc = await env.settle();
        expect(env.fake.violations).toEqual([]);
        expect(compareDeliveries(sent, env.fake.received)).toEqual(NO_DELIVERY_PROBLEMS);
        expect(receivedEventIds(env.fake.received).sort()).toEqual([...run.result.eventIds].sort());
        for (const r of env.fake.received) expect(sent.map((b) => JSON.parse(text(b)))).toContainEqual(r.json);
        expect(doc).toMatchObject({ count: 0, processed: sent.length, ignored: 0, delivered: sent.length });
      },
      SDK_TEST_TIMEOUT,
    );
  });

  interface BrowserRun {
    flushed: boolean;
    eventIds: string[];
    sends: Array<{ type: string; statusCode: number | null; error: string | null }>;
  }

  describe("@sentry/browser in Chromium through cyclops", () => {
    let env: SdkEnv;
    beforeEach(async () => {
      env = await startSdkEnv();
    });
    afterEach(async () => {
      await env?.stop();
    });

    /** Runs browser.html with `tunnel` (or none) and checks everything arrived exactly once. */
    async function runAndCheck(tunnel: string | null): Promise<NetworkRecord[]> {
      crossOrigin(env);
      let page = `${pages.url}/browser.html?errors=${ERRORS}&dsn=${encodeURIComponent(env.dsn())}`;
      if (tunnel) page += `&tunnel=${encodeURIComponent(tunnel)}`;
      const run = await runPage<BrowserRun>(browser, page, env.gateway.url);
      const why = `console: ${run.console.join("\n")}; sends ${JSON.stringify(run.result.sends)}`;
      expect(run.result.flushed, why).toBe(true);
      // The SDK's own fetch transport read a 200 for every envelope: CORS let it see the answer.
      expect(
        run.result.sends.map((s) => s.statusCode ?? s.error),
        why,
      ).toEqual(run.result.sends.map(() => 200));
      expect(run.requests.length, `${why}; network: ${JSON.stringify(run.requests.map((r) => [r.url, r.status, r.failure, text(r.body).slice(0, 300)]))}`).toBe(
        run.result.sends.length,
      );
      expect(statuses(run.requests)).toEqual(run.requests.map(() => 200));
      for (const r of run.requests) expect(r.responseHeaders["access-control-allow-origin"]).toBe("*");

      const sent = run.requests.map((r) => r.body);
      const sentEnvelopes = sent.map((b) => parseEnvelope(b));
      const sentTypes = sentEnvelopes.flatMap((e) => e.items.map((i) => String(i.headers.type)));
      expect(sentTypes.filter((t) => t === "event").length).toBe(ERRORS + 1);
      expect(sentTypes).toContain("session"); // release health: the page-load session
      const sentEventIds = sentEnvelopes.flatMap((e) => envelopeEventIds(e));
      expect(sentEventIds.sort()).toEqual([...run.result.eventIds].sort());

      await env.fake.waitFor(sent.length, 30_000);
      const doc = await env.settle();
      expect(env.fake.violations).toEqual([]);
      expect(compareDeliveries(sent, env.fake.received)).toEqual(NO_DELIVERY_PROBLEMS);
      expect(receivedEventIds(env.fake.received).sort()).toEqual(sentEventIds);
      expect(env.fake.received.every((r) => r.endpoint === "envelope" && r.projectId === PROJECT_ID && r.auth.sentry_key === PUBLIC_KEY)).toBe(true);
      expect(doc).toMatchObject({ count: 0, processed: sent.length, ignored: 0, delivered: sent.length });
      return run.requests;
    }

    test(
      "normal mode: envelopes with query auth are delivered exactly once",
      async () => {
        const requests = await runAndCheck(null);
        for (const r of requests) {
          const url = new URL(r.url);
          expect(url.pathname).toBe(`/api/${PROJECT_ID}/envelope/`);
          expect(url.searchParams.get("sentry_key")).toBe(PUBLIC_KEY);
        }
      },
      SDK_TEST_TIMEOUT,
    );

    test(
      "tunnel mode, bare URL: cyclops authenticates from the dsn in the envelope header",
      async () => {
        const tunnel = `${env.gateway.url}/api/${PROJECT_ID}/envelope/`;
        const requests = await runAndCheck(tunnel);
        for (const r of requests) {
          expect(r.url).toBe(tunnel);
          expect(r.headers["x-sentry-auth"]).toBeUndefined();
          expect(parseEnvelope(r.body).headers.dsn).toBe(env.dsn());
        }
      },
      SDK_TEST_TIMEOUT,
    );

    test(
      "tunnel mode with ?sentry_key: query auth and header dsn agree",
      async () => {
        const tunnel = `${env.gateway.url}/api/${PROJECT_ID}/envelope/?sentry_key=${PUBLIC_KEY}&sentry_version=7`;
        const requests = await runAndCheck(tunnel);
        for (const r of requests) expect(parseEnvelope(r.body).headers.dsn).toBe(env.dsn());
      },
      SDK_TEST_TIMEOUT,
    );

    test(
      "tunnel mode with an unknown key in the dsn: a 403 the SDK can read cross-origin, nothing forwarded",
      async () => {
        crossOrigin(env);
        const stranger = env.dsn().replace(PUBLIC_KEY, "0123456789abcdef0123456789abcdef");
        const tunnel = `${env.gateway.url}/api/${PROJECT_ID}/envelope/`;
        const page = `${pages.url}/browser.html?errors=1&dsn=${encodeURIComponent(stranger)}&tunnel=${encodeURIComponent(tunnel)}`;
        const run = await runPage<BrowserRun>(browser, page, env.gateway.url);
        expect(run.result.sends.length).toBeGreaterThan(0);
        // A status, not a network error: cyclops's refusal carries CORS headers too.
        expect(run.result.sends.map((s) => s.statusCode ?? s.error)).toEqual(run.result.sends.map(() => 403));
        expect(statuses(run.requests)).toEqual(run.requests.map(() => 403));
        await env.settle();
        expect(env.fake.received).toEqual([]);
        expect(env.fake.violations).toEqual([]);
      },
      SDK_TEST_TIMEOUT,
    );
  });
});

/**
 * The browser side of the SDK tests: Chromium (the system one, driven by playwright-core), a page
 * server on its own port so the SDKs post to cyclops cross-origin, and a runner that loads a page,
 * calls its `window.runSdk()` and records every request the page made to cyclops as the network
 * saw it (method, url, body bytes, status).
 */
import { join, resolve } from "node:path";
import { chromium, type Browser, type Request as PwRequest } from "playwright-core";
import { CHROMIUM, ROOT, SDK_DIR } from "./helpers.ts";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
}

export interface PageServer {
  /** Origin of the pages, e.g. http://127.0.0.1:40123 (another port than cyclops: another origin). */
  url: string;
  stop(): Promise<void>;
}

/** The npm package ships no CDN bundle here: build one from browser-entry.ts, as the CDN's would be. */
async function buildSentryBrowserBundle(): Promise<string> {
  const out = await Bun.build({ entrypoints: [join(SDK_DIR, "browser-entry.ts")], target: "browser", format: "iife", minify: true });
  if (!out.success || !out.outputs[0]) throw new Error(`@sentry/browser bundle failed: ${out.logs.join("\n")}`);
  return out.outputs[0].text();
}

export async function startPageServer(): Promise<PageServer> {
  const sentryBrowser = await buildSentryBrowserBundle();
  const files: Record<string, () => Response> = {
    "/raven-js.html": () => new Response(Bun.file(join(SDK_DIR, "raven-js.html")), { headers: { "Content-Type": "text/html" } }),
    "/browser.html": () => new Response(Bun.file(join(SDK_DIR, "browser.html")), { headers: { "Content-Type": "text/html" } }),
    "/raven.js": () => new Response(Bun.file(resolve(ROOT, "node_modules/raven-js/dist/raven.js")), { headers: { "Content-Type": "text/javascript" } }),
    "/sentry-browser.js": () => new Response(sentryBrowser, { headers: { "Content-Type": "text/javascript" } }),
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const file = files[new URL(req.url).pathname];
      return file ? file() : new Response("not found", { status: 404 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

export interface NetworkRecord {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Uint8Array;
  status: number | null;
  responseHeaders: Record<string, string>;
  failure: string | null;
}

export interface PageRun<T> {
  result: T;
  /** Requests (no CORS preflights) the page sent to `watchOrigin`. */
  requests: NetworkRecord[];
  /** The page's console and errors, for failure messages. */
  console: string[];
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Loads `pageUrl`, awaits `window.runSdk()` and returns its result with the requests to `watchOrigin`. */
export async function runPage<T>(browser: Browser, pageUrl: string, watchOrigin: string): Promise<PageRun<T>> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const requests: NetworkRecord[] = [];
    const pending = new Map<PwRequest, { record: NetworkRecord; settle: () => void }>();
    const done: Promise<void>[] = [];
    const consoleLines: string[] = [];
    page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
    page.on("request", (req) => {
      if (!req.url().startsWith(watchOrigin) || req.method() === "OPTIONS") return;
      const record: NetworkRecord = {
        method: req.method(),
        url: req.url(),
        headers: req.headers(),
        body: new Uint8Array(req.postDataBuffer() ?? new Uint8Array()),
        status: null,
        responseHeaders: {},
        failure: null,
      };
      requests.push(record);
      done.push(new Promise<void>((settle) => pending.set(req, { record, settle })));
    });
    const finish = async (req: PwRequest) => {
      const entry = pending.get(req);
      if (!entry) return;
      pending.delete(req);
      const res = await req.response().catch(() => null);
      if (res) {
        entry.record.status = res.status();
        entry.record.responseHeaders = res.headers();
      }
      entry.record.failure = req.failure()?.errorText ?? null;
      entry.settle();
    };
    page.on("requestfinished", finish);
    page.on("requestfailed", finish);
    await page.goto(pageUrl);
    const result = await withTimeout(page.evaluate("window.runSdk()") as Promise<T>, 60_000, `runSdk() on ${pageUrl}`);
    await withTimeout(Promise.all(done), 20_000, "the page's requests to cyclops");
    return { result, requests, console: consoleLines };
  } finally {
    await context.close();
  }
}

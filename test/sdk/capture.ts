/**
 * One-off: regenerates test/fixtures/sdk/ with what each real SDK puts on the wire, captured by a
 * small server standing where cyclops would (the SDKs' DSNs point at it), so protocol tests can
 * replay real requests without running the SDKs. Run from the project root:
 *
 *   npx bun test/sdk/capture.ts
 *
 * Each fixture is a request body exactly as received (still base64+zlib or gzip when the SDK
 * compressed it); index.json gives each one's method, path, query and headers.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { parseEnvelope } from "../helpers/fake-sentry.ts";
import { launchChromium, runPage, startPageServer } from "./browser-page.ts";
import { decodeRavenBody, dsnFor, PROJECT_ID, runNodeSdk, runPythonSdk, runRavenNode, text } from "./helpers.ts";

const OUT = resolve(import.meta.dir, "../fixtures/sdk");

interface Captured {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

const captured: Captured[] = [];
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const cors = { "Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "x-sentry-error, x-sentry-rate-limits, retry-after" };
    if (req.method === "OPTIONS") {
      return new Response(null, {
        headers: { ...cors, "Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "x-sentry-auth, content-type, content-encoding" },
      });
    }
    const url = new URL(req.url);
    captured.push({ method: req.method, path: url.pathname, query: url.search, headers: Object.fromEntries(req.headers), body: new Uint8Array(await req.arrayBuffer()) });
    return Response.json({ id: crypto.randomUUID().replace(/-/g, "") }, { headers: cors });
  },
});
const base = `http://127.0.0.1:${server.port}`;

/** Takes the requests captured since the last call. */
function take(): Captured[] {
  return captured.splice(0, captured.length);
}

const isEventEnvelope = (body: Uint8Array): boolean => parseEnvelope(body).items.some((i) => i.headers.type === "event");

const index: Record<string, Omit<Captured, "body"> & { sdk: string; encoding: string }> = {};

function save(file: string, sdk: string, encoding: string, requests: Captured[], pick: (c: Captured) => boolean): void {
  const c = requests.find(pick);
  if (!c) throw new Error(`${sdk}: no request matched for ${file} (got ${requests.length}: ${requests.map((r) => r.path).join(", ")})`);
  writeFileSync(join(OUT, file), c.body);
  const { body: _body, ...meta } = c;
  delete meta.headers.host; // the capture server's random port
  index[file] = { sdk, encoding, ...meta };
  console.log(`${file}: ${sdk}, ${c.method} ${c.path}, ${c.body.byteLength} bytes`);
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });

  for (const [pkg, file, sdk] of [
    ["@sentry/node", "node11-envelope.txt", "@sentry/node 11.12"],
    ["sentry-node-10", "node10-envelope.txt", "@sentry/node 10.78"],
  ] as const) {
    const run = await runNodeSdk(pkg, dsnFor(base), "protocol", 1);
    if (run.child.code !== 0) throw new Error(`${sdk} failed:\n${run.child.stderr}`);
    const reqs = take();
    save(file, sdk, "identity", reqs, (c) => isEventEnvelope(c.body));
    save(file.replace("-envelope", "-session-envelope"), sdk, "identity", reqs, (c) => parseEnvelope(c.body).items.some((i) => i.headers.type === "session"));
    // 10 sends a transaction item, 11 a span v2 container (item_count, content_type)
    save(file.replace("-envelope", "-transaction-envelope"), sdk, "identity", reqs, (c) =>
      parseEnvelope(c.body).items.some((i) => i.headers.type === "transaction" || i.headers.type === "span"),
    );
  }

  const raven = await runRavenNode(dsnFor(base, { secret: true }), 1);
  if (raven.child.code !== 0) throw new Error(`raven-node failed:\n${raven.child.stderr}`);
  save("raven-node-store.txt", "raven-node 2.6.4", "base64+zlib", take(), (c) => "exception" in (JSON.parse(text(decodeRavenBody(text(c.body)))) as object));

  const py = await runPythonSdk(dsnFor(base), 1);
  if (py.child.code !== 0) throw new Error(`sentry_sdk failed:\n${py.child.stderr}`);
  const pyReqs = take();
  save("python-store.bin", "sentry_sdk 1.9.10", "gzip", pyReqs, (c) => c.path.endsWith("/store/"));
  save(
    "python-envelope.bin",
    "sentry_sdk 1.9.10",
    "gzip",
    pyReqs,
    (c) => c.path.endsWith("/envelope/") && parseEnvelope(new Uint8Array(gunzipSync(c.body))).items.some((i) => i.headers.type === "transaction"),
  );

  const pages = await startPageServer();
  const browser = await launchChromium();
  try {
    const dsn = encodeURIComponent(dsnFor(base));
    await runPage(browser, `${pages.url}/raven-js.html?errors=1&dsn=${dsn}`, base);
    save("ravenjs-store.json", "raven-js 3.27.2 (Chromium)", "identity", take(), (c) => c.path.endsWith("/store/"));
    await runPage(browser, `${pages.url}/browser.html?errors=1&dsn=${dsn}`, base);
    save("browser-envelope.txt", "@sentry/browser 11.12 (Chromium)", "identity", take(), (c) => isEventEnvelope(c.body));
    const tunnel = encodeURIComponent(`${base}/api/${PROJECT_ID}/envelope/`);
    await runPage(browser, `${pages.url}/browser.html?errors=1&dsn=${dsn}&tunnel=${tunnel}`, base);
    save("browser-tunnel-envelope.txt", "@sentry/browser 11.12 (Chromium), tunnel", "identity", take(), (c) => isEventEnvelope(c.body));
  } finally {
    await browser.close();
    await pages.stop();
  }

  writeFileSync(join(OUT, "index.json"), JSON.stringify(index, null, 2) + "\n");
}

try {
  await main();
} finally {
  await server.stop(true);
}

import { describe, expect, test } from "bun:test";
import { authHeader, classifyError, classifyResponse, endpointUrl, expiryOf, itemCategoryOf, sentryDetail } from "../../src/forward/upstream.ts";
import type { QueuedItem } from "../../src/storage/item.ts";
import { envelopeItem, storeItem } from "./setup.ts";

const queued = (item: ReturnType<typeof storeItem>, attempts = 0): QueuedItem => ({ ...item, id: "1", attempts });
const enc = new TextEncoder();

describe("classification", () => {
  const now = 1_000;
  test("2xx delivered (whatever the body), with proactive limits", () => {
    expect(classifyResponse(200, new Headers(), "<html>", now)).toEqual({ kind: "delivered", status: 200, limits: [] });
    const d = classifyResponse(202, new Headers({ "x-sentry-rate-limits": "60:transaction:key" }), "", now);
    expect(d.kind === "delivered" && d.limits.map((l) => l.categories)).toEqual([["transaction"]]);
  });

  test("429 rate_limited; 5xx unavailable; 3xx and other 4xx rejected with Sentry's detail", () => {
    expect(classifyResponse(429, new Headers({ "retry-after": "5" }), "", now).kind).toBe("rate_limited");
    for (const status of [500, 502, 503, 504]) expect(classifyResponse(status, new Headers(), "", now).kind).toBe("unavailable");
    expect(classifyResponse(400, new Headers(), '{"detail":"invalid event envelope","causes":["x"]}', now)).toEqual({
      kind: "rejected",
      status: 400,
      cause: "HTTP 400: invalid event envelope",
    });
    expect(classifyResponse(413, new Headers(), "", now)).toEqual({ kind: "rejected", status: 413, cause: "HTTP 413" });
    const r = classifyResponse(301, new Headers({ location: "https://x.example/" }), "", now);
    expect(r.kind).toBe("rejected");
    expect(r.kind === "rejected" && r.cause).toContain("redirect to https://x.example/");
  });

  test("network errors and timeouts are unavailable", () => {
    const t = classifyError(Object.assign(new Error("The operation timed out."), { name: "TimeoutError" }), 3000);
    expect(t).toEqual({ kind: "unavailable", status: null, cause: "timeout after 3000 ms" });
    const c = classifyError(Object.assign(new Error("Unable to connect"), { code: "ConnectionRefused" }), 3000);
    expect(c).toEqual({ kind: "unavailable", status: null, cause: "network error: ConnectionRefused: Unable to connect" });
  });

  test("detail from Relay, legacy Sentry, or plain text", () => {
    expect(sentryDetail('{"detail":"bad"}')).toBe("bad");
    expect(sentryDetail('{"error":"Invalid api key","error_name":"x"}')).toBe("Invalid api key");
    expect(sentryDetail("<h1>Bad\n Gateway</h1>")).toBe("<h1>Bad Gateway</h1>");
    expect(sentryDetail("  ")).toBeNull();
  });
});

describe("expiry", () => {
  const cfg = { MAX_ITEM_AGE: 10, MAX_RETRIES: 2 };
  test("by age and by attempts", () => {
    const item = storeItem(1, { receivedAt: 0 });
    expect(expiryOf(queued(item), 10_000, cfg)).toBeNull();
    expect(expiryOf(queued(item), 10_001, cfg)).toBe("age");
    expect(expiryOf(queued(item, 2), 0, cfg)).toBeNull();
    expect(expiryOf(queued(item, 3), 0, cfg)).toBe("retries");
  });
});

describe("request pieces", () => {
  test("auth header: Relay's shape, secret only when asked, commas in the client name neutralised", () => {
    const auth = { publicKey: "k".repeat(32), secretKey: "s", client: "weird,client/1" };
    expect(authHeader(auth, "1.2.3", false)).toBe(`Sentry sentry_key=${"k".repeat(32)}, sentry_version=7, sentry_client=weird client/1`);
    expect(authHeader({ ...auth, client: null }, "1.2.3", true)).toBe(`Sentry sentry_key=${"k".repeat(32)}, sentry_version=7, sentry_client=cyclops/1.2.3, sentry_secret=s`);
  });

  test("endpoint URL keeps a path prefix of SENTRY_BASE_URL", () => {
    expect(endpointUrl("https://o.example/sentry/", 42, "envelope")).toBe("https://o.example/sentry/api/42/envelope/");
  });

  test("category: error for store; the main item's category for envelopes", () => {
    expect(itemCategoryOf(storeItem(1))).toBe("error");
    expect(itemCategoryOf(envelopeItem(1))).toBe("error");
    const tx = enc.encode('{}\n{"type":"transaction"}\n{"type":"transaction"}\n');
    expect(itemCategoryOf({ endpoint: "envelope", body: tx })).toBe("transaction");
    const sessions = enc.encode('{}\n{"type":"session"}\n{}\n');
    expect(itemCategoryOf({ endpoint: "envelope", body: sessions })).toBe("session");
    expect(itemCategoryOf({ endpoint: "envelope", body: enc.encode("{}\n") })).toBe("default");
  });
});

/**
 * Sentry's rate limits passed back to SDKs, end to end: once cyclops forwarded a report of a
 * project and Sentry answered 429 with Retry-After and X-Sentry-Rate-Limits, cyclops answers that
 * project's new reports of the limited category 429 with the same headers (so SDKs back off at the
 * source), counts them, keeps other projects and other categories flowing, does not walk into the
 * 429 again, and takes the project's reports again once the limit has passed.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { metricValue, until } from "../helpers/wait.ts";

const KEYS: Record<number, string> = {
  1: "a1a0000000000000000000000000000a",
  2: "a2b0000000000000000000000000000b",
};

const eventId = () => crypto.randomUUID().replace(/-/g, "");
const authHeader = (projectId: number) => `Sentry sentry_version=7, sentry_client=cyclops-test/1.0, sentry_key=${KEYS[projectId]}`;

function storeEvent(g: TestGateway, projectId: number, message: string): Promise<Response> {
  return fetch(`${g.url}/api/${projectId}/store/`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Sentry-Auth": authHeader(projectId) },
    body: JSON.stringify({ event_id: eventId(), message, level: "error" }),
  });
}

function envelope(g: TestGateway, projectId: number, type: "event" | "transaction"): Promise<Response> {
  const id = eventId();
  const now = Date.now() / 1000;
  const payload =
    type === "event"
      ? { event_id: id, message: "envelope error", level: "error" }
      : {
          event_id: id,
          type: "transaction",
          transaction: "/checkout",
          start_timestamp: now - 0.1,
          timestamp: now,
          contexts: { trace: { trace_id: eventId(), span_id: eventId().slice(0, 16) } },
        };
  return fetch(`${g.url}/api/${projectId}/envelope/`, {
    method: "POST",
    headers: { "Content-Type": "application/x-sentry-envelope", "X-Sentry-Auth": authHeader(projectId) },
    body: `${JSON.stringify({ event_id: id })}\n${JSON.stringify({ type })}\n${JSON.stringify(payload)}\n`,
  });
}

const metric = (g: TestGateway, name: string): Promise<number> => metricValue(g.url, name);

/** The limit categories named by an X-Sentry-Rate-Limits value, each with its seconds. */
function limitCategories(header: string): Array<{ seconds: number; categories: string }> {
  return header.split(",").map((part) => {
    const [seconds, categories] = part.trim().split(":");
    return { seconds: Number(seconds), categories: categories ?? "" };
  });
}

let fake: FakeSentry | undefined;
let gateway: TestGateway | undefined;

async function start(): Promise<{ fake: FakeSentry; g: TestGateway }> {
  fake = await startFakeSentry({ keys: { 1: [KEYS[1]!], 2: [KEYS[2]!] } });
  gateway = await startTestGateway({
    PROJECT_KEYS: [
      [1, KEYS[1]!, null],
      [2, KEYS[2]!, null],
    ],
    SENTRY_BASE_URL: fake.url,
    PACING: "adaptive",
    URL_CACHE_EXPIRATION: 0,
  });
  return { fake, g: gateway };
}

/** Sends one event of project 1 and waits until cyclops forwarded it and got Sentry's 429. */
async function learnLimit(fake: FakeSentry, g: TestGateway): Promise<void> {
  expect((await storeEvent(g, 1, "the event Sentry rate-limits")).status).toBe(200);
  await until("Sentry's 429 for project 1", () => fake.attempts.some((a) => a.projectId === 1 && a.status === 429));
  // The forwarder counts the 429 as a retry in the same step as it records the limit.
  await until("cyclops to record the 429", async () => (await metric(g, 'cyclops_forwarded_total{outcome="retried"}')) >= 1);
}

afterEach(async () => {
  await gateway?.stop();
  await fake?.stop();
  gateway = undefined;
  fake = undefined;
});

describe("Sentry's rate limits passed back to clients", () => {
  test("a limited project's errors get 429 with Retry-After and X-Sentry-Rate-Limits; other projects and categories flow", async () => {
    const { fake, g } = await start();
    fake.setBehaviour({ rateLimit: { projectId: 1, retryAfter: 30, header: "30:error:key" } });
    await learnLimit(fake, g);

    const limited = [...(await Promise.all([1, 2, 3, 4].map((i) => storeEvent(g, 1, `limited error ${i}`)))), await envelope(g, 1, "event")];
    for (const res of limited) {
      expect(res.status).toBe(429);
      const retryAfter = Number(res.headers.get("retry-after"));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(30);
      const header = res.headers.get("x-sentry-rate-limits") ?? "";
      const limits = limitCategories(header);
      expect(limits.length).toBeGreaterThan(0);
      // Only the error category is limited, for at most what Sentry said.
      for (const l of limits) {
        expect(l.categories.split(";")).toEqual(["error"]);
        expect(l.seconds).toBeGreaterThan(0);
        expect(l.seconds).toBeLessThanOrEqual(30);
      }
      expect(((await res.json()) as { detail?: string }).detail).toContain("RateLimited");
    }
    expect(await metric(g, 'cyclops_reports_dropped_total{reason="rate_limited"}')).toBe(limited.length);

    // Another project is not limited: accepted and delivered.
    const other = await storeEvent(g, 2, "project 2 is fine");
    expect(other.status).toBe(200);
    expect(other.headers.get("x-sentry-rate-limits")).toBeNull();
    await until("project 2's event at Sentry", () => fake.received.some((r) => r.projectId === 2));

    // Only "error" is limited: a transaction of project 1 is still accepted.
    const tx = await envelope(g, 1, "transaction");
    expect(tx.status).toBe(200);
    expect(await metric(g, 'cyclops_reports_dropped_total{reason="rate_limited"}')).toBe(limited.length);
    expect(await metric(g, 'cyclops_reports_accepted_total{project="1"}')).toBe(2);
    expect(await metric(g, 'cyclops_reports_accepted_total{project="2"}')).toBe(1);

    // cyclops holds project 1 instead of walking into the 429 again.
    await Bun.sleep(300);
    expect(fake.attempts.filter((a) => a.projectId === 1)).toEqual([{ projectId: 1, endpoint: "store", status: 429 }]);
    expect(fake.violations).toEqual([]);
  });

  test("a limit on every category covers transactions too, and once it passed the held report is delivered", async () => {
    const { fake, g } = await start();
    fake.setBehaviour({ rateLimit: { projectId: 1, retryAfter: 2, header: "2::key" } });
    await learnLimit(fake, g);

    for (const res of [await storeEvent(g, 1, "limited"), await envelope(g, 1, "transaction")]) {
      expect(res.status).toBe(429);
      const retryAfter = Number(res.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(2);
      // Empty categories: every category.
      expect(limitCategories(res.headers.get("x-sentry-rate-limits") ?? "").map((l) => l.categories)).toEqual([""]);
    }
    expect(await metric(g, 'cyclops_reports_dropped_total{reason="rate_limited"}')).toBe(2);

    // After the limit: the held event goes out, and new reports are taken again.
    await until("the held event to reach Sentry", () => fake.received.some((r) => r.projectId === 1), 8000);
    const after = await storeEvent(g, 1, "after the limit");
    expect(after.status).toBe(200);
    await until("the new event to reach Sentry", () => fake.received.filter((r) => r.projectId === 1).length === 2, 5000);
    expect(fake.attempts.filter((a) => a.projectId === 1).map((a) => a.status)).toEqual([429, 200, 200]);
    expect(fake.violations).toEqual([]);
  });
});

/**
 * Sentry's rate limit reaches a real @sentry/node 11 through cyclops: Sentry answers 429 with
 * X-Sentry-Rate-Limits for the project's key; once cyclops learned it, it answers the SDK's next
 * error 429 with the limit, and the SDK, unmodified, stops sending errors for that time (no request
 * reaches cyclops) and later tells, in its own client report, that it dropped them as
 * ratelimit_backoff.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { outFile, PROJECT_ID, PUBLIC_KEY, readRecords, runChild, SDK_DIR, SDK_TEST_TIMEOUT, useSdkEnv, type SdkEnv } from "./helpers.ts";
import { metricValue, until } from "../helpers/wait.ts";

const ERRORS = 5;

interface ChildRecord {
  types: string[];
  statusCode: number | null;
  headers: Record<string, string | null> | null;
  payloads: Array<{ discarded_events?: Array<{ reason: string; category: string; quantity: number }> }>;
  error: string | null;
}

const metric = (env: SdkEnv, name: string): Promise<number> => metricValue(env.gateway.url, name);

describe("@sentry/node 11 backs off when Sentry rate-limits it through cyclops", () => {
  const env = useSdkEnv();

  test(
    "after the refused error, errors within the limit never leave the SDK, and its client report says ratelimit_backoff",
    async () => {
      env.fake.setBehaviour({ rateLimit: { projectId: PROJECT_ID, retryAfter: 60, header: "60:error:key" } });
      // One report through cyclops, so cyclops gets Sentry's 429 and learns the limit.
      const primer = await fetch(`${env.gateway.url}/api/${PROJECT_ID}/store/`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=cyclops-test/1.0, sentry_key=${PUBLIC_KEY}` },
        body: JSON.stringify({ event_id: crypto.randomUUID().replace(/-/g, ""), message: "primer" }),
      });
      expect(primer.status).toBe(200);
      await until("Sentry's 429", () => env.fake.attempts.some((a) => a.status === 429));
      await until("cyclops to record the limit", async () => (await metric(env, 'cyclops_forwarded_total{outcome="retried"}')) >= 1);
      const receivedBefore = await metric(env, "cyclops_requests_received_total");
      expect(receivedBefore).toBe(1);

      const file = outFile("rate-limit");
      const child = await runChild(["node", join(SDK_DIR, "rate-limit-child.cjs")], { SENTRY_DSN: env.dsn(), OUT_FILE: file, ERRORS: String(ERRORS) }, 60_000);
      expect(child.code, child.stderr).toBe(0);
      const { records } = readRecords<{ records: ChildRecord[] }>(file, child);

      // The first error went out and cyclops answered 429 with Sentry's limit.
      const [first, ...rest] = records;
      expect(first?.types).toEqual(["event"]);
      expect(first?.statusCode).toBe(429);
      const limitHeader = first?.headers?.["x-sentry-rate-limits"] ?? "";
      expect(limitHeader).toMatch(/^\d+:error:key/);
      const retryAfter = Number(first?.headers?.["retry-after"]);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);

      // The errors captured within the limit: handed to the transport, never sent.
      const withinLimit = rest.filter((r) => r.types.includes("event"));
      expect(withinLimit.length).toBe(ERRORS);
      expect(withinLimit.map((r) => ({ statusCode: r.statusCode, error: r.error }))).toEqual(withinLimit.map(() => ({ statusCode: null, error: null })));

      // The SDK's client report went to cyclops (internal category: never limited) and was taken.
      const reports = rest.filter((r) => r.types.includes("client_report"));
      expect(reports.map((r) => r.statusCode)).toEqual([200]);
      const discarded = reports.flatMap((r) => r.payloads.flatMap((p) => p.discarded_events ?? []));
      expect(discarded).toContainEqual({ reason: "ratelimit_backoff", category: "error", quantity: ERRORS });

      // cyclops saw only what the SDK actually sent: the refused error and the report.
      const sentRequests = records.filter((r) => r.statusCode !== null).length;
      expect(sentRequests).toBe(2);
      expect(await metric(env, "cyclops_requests_received_total")).toBe(receivedBefore + sentRequests);
      expect(await metric(env, 'cyclops_reports_dropped_total{reason="rate_limited"}')).toBe(1);
      expect(await metric(env, `cyclops_reports_accepted_total{project="${PROJECT_ID}"}`)).toBe(2);
      expect(env.fake.violations).toEqual([]);
    },
    SDK_TEST_TIMEOUT,
  );
});

/**
 * Spike protection with SPIKE_RESPONSE rate-limit reaches a real @sentry/node 11: while its
 * project is in a spike episode, cyclops answers the SDK's error 429 with
 * `X-Sentry-Rate-Limits: 60:error;default;security:project:spike_protection`, and the SDK,
 * unmodified, sends no further error for that time and reports them as ratelimit_backoff.
 * Its first run shows the novelty lane: the app's error group is new, so it passes the episode.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { outFile, PROJECT_ID, PUBLIC_KEY, readRecords, runChild, SDK_DIR, SDK_TEST_TIMEOUT, useSdkEnv } from "./helpers.ts";

const ERRORS = 5;

interface ChildRecord {
  types: string[];
  statusCode: number | null;
  headers: Record<string, string | null> | null;
  payloads: Array<{ discarded_events?: Array<{ reason: string; category: string; quantity: number }> }>;
  error: string | null;
}

describe("@sentry/node 11 backs off when spike protection rate-limits its project", () => {
  const env = useSdkEnv({ SPIKE_PROTECTION: "enforce", SPIKE_RESPONSE: "rate-limit", SPIKE_MIN_PER_MINUTE: 60 });

  test(
    "the first run's new error passes the episode; in the second, the refused error stops the rest at the SDK",
    async () => {
      // A storm of one error keeps project 42 over its floor of 60 a minute for the whole test.
      let storming = true;
      const stormed = (async () => {
        while (storming) {
          const res = await fetch(`${env.gateway.url}/api/${PROJECT_ID}/store/`, {
            method: "POST",
            headers: {
              "Content-Type": "application/json",
              "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=cyclops-test/1.0, sentry_key=${PUBLIC_KEY}`,
            },
            body: JSON.stringify({ event_id: crypto.randomUUID().replace(/-/g, ""), message: "the storm" }),
          });
          await res.arrayBuffer();
          await Bun.sleep(5);
        }
      })();
      try {
        const run = async (label: string) => {
          const file = outFile(label);
          const child = await runChild(
            ["node", join(SDK_DIR, "rate-limit-child.cjs")],
            { SENTRY_DSN: env.dsn(), OUT_FILE: file, ERRORS: String(ERRORS) },
            60_000,
          );
          expect(child.code, child.stderr).toBe(0);
          return readRecords<{ records: ChildRecord[] }>(file, child).records;
        };
        // Run 1: the app's error group was never seen: the novelty lane lets it through.
        const first = await run("spike-novel");
        expect(first[0]?.types).toEqual(["event"]);
        expect(first[0]?.statusCode).toBe(200);

        // Run 2: the same group, seen a moment ago: refused with spike protection's limit.
        const records = await run("spike-limited");
        const [refused, ...rest] = records;
        expect(refused?.types).toEqual(["event"]);
        expect(refused?.statusCode).toBe(429);
        expect(refused?.headers?.["x-sentry-rate-limits"]).toBe("60:error;default;security:project:spike_protection");
        expect(refused?.headers?.["retry-after"]).toBe("60");
        // The errors captured within Retry-After never left the SDK.
        const withinLimit = rest.filter((r) => r.types.includes("event"));
        expect(withinLimit.length).toBe(ERRORS);
        expect(withinLimit.map((r) => r.statusCode)).toEqual(Array(ERRORS).fill(null));
        // Its client report (internal: never limited) was taken, and says why.
        const reports = rest.filter((r) => r.types.includes("client_report"));
        expect(reports.map((r) => r.statusCode)).toEqual([200]);
        const discarded = reports.flatMap((r) => r.payloads.flatMap((p) => p.discarded_events ?? []));
        expect(discarded).toContainEqual({ reason: "ratelimit_backoff", category: "error", quantity: ERRORS });
      } finally {
        storming = false;
        await stormed;
      }
    },
    SDK_TEST_TIMEOUT,
  );
});

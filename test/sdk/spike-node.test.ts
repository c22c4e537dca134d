/**
 * Spike protection with SPIKE_RESPONSE rate-limit reaches a real @sentry/node 11: while its
 * project is in a spike episode, cyclops answers the SDK's error 429 with Retry-After N and
 * `X-Sentry-Rate-Limits: N:error;default;security:project:spike_protection`, N the time until the
 * project's limit admits again (a floor of 6 a minute: 1 to 10 s). The SDK, unmodified, sends no
 * error before N seconds have passed (reporting them as ratelimit_backoff) and sends again after.
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
  sentAt: number;
  answeredAt: number | null;
  payloads: Array<{ discarded_events?: Array<{ reason: string; category: string; quantity: number }> }>;
  error: string | null;
}

describe("@sentry/node 11 backs off when spike protection rate-limits its project", () => {
  const env = useSdkEnv({ SPIKE_PROTECTION: "enforce", SPIKE_RESPONSE: "rate-limit", SPIKE_MIN_PER_MINUTE: 6 });

  test(
    "the first run's new error passes the episode; in the second, the refused error stops the rest at the SDK until Retry-After passes",
    async () => {
      // A storm of one error keeps project 42 over its floor of 6 a minute for the whole test.
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
        const run = async (label: string, resume = false) => {
          const file = outFile(label);
          const child = await runChild(
            ["node", join(SDK_DIR, "rate-limit-child.cjs")],
            { SENTRY_DSN: env.dsn(), OUT_FILE: file, ERRORS: String(ERRORS), RESUME: resume ? "1" : "0" },
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
        const records = await run("spike-limited", true);
        const [refused, ...rest] = records;
        expect(refused?.types).toEqual(["event"]);
        expect(refused?.statusCode).toBe(429);
        const retryAfter = Number(refused?.headers?.["retry-after"]);
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(retryAfter).toBeLessThanOrEqual(10); // a token every 10 s at 6 a minute
        expect(refused?.headers?.["x-sentry-rate-limits"]).toBe(`${retryAfter}:error;default;security:project:spike_protection`);
        const resumesAt = refused!.answeredAt! + retryAfter * 1000;
        const events = rest.filter((r) => r.types.includes("event"));
        // The errors captured within Retry-After never left the SDK.
        const withinLimit = events.filter((r) => r.sentAt < resumesAt);
        expect(withinLimit.length).toBe(ERRORS);
        expect(withinLimit.map((r) => r.statusCode)).toEqual(Array(ERRORS).fill(null));
        // The one captured after Retry-After went out: answered (429 again while the storm goes on, or 200), not held back.
        const after = events.filter((r) => r.sentAt >= resumesAt);
        expect(after.length).toBe(1);
        expect([200, 429]).toContain(after[0]!.statusCode!);
        // Its client report (internal: never limited) was taken, and says why.
        const reports = rest.filter((r) => r.types.includes("client_report"));
        expect(reports.map((r) => r.statusCode)).toEqual([200]);
        const discarded = reports.flatMap((r) => r.payloads.flatMap((p) => p.discarded_events ?? []));
        expect(discarded).toContainEqual({ reason: "ratelimit_backoff", category: "error", quantity: ERRORS });
        console.log(
          `@sentry/node: refused with Retry-After ${retryAfter} s; ${ERRORS} errors held back within it, the next sent ${after[0]!.sentAt - refused!.answeredAt!} ms after the refusal (answered ${after[0]!.statusCode})`,
        );
      } finally {
        storming = false;
        await stormed;
      }
    },
    SDK_TEST_TIMEOUT,
  );
});

/**
 * raven-node 2.6, unmodified, in a node child process: store requests whose body is
 * base64(zlib(JSON)) with Content-Type application/octet-stream and an X-Sentry-Auth carrying
 * sentry_version=5 and sentry_secret. cyclops must check the secret, answer 200, and hand Sentry
 * the decoded JSON, byte for byte, exactly once.
 */
import { describe, expect, test } from "bun:test";
import { compareDeliveries, decodeRavenBody, NO_DELIVERY_PROBLEMS, PROJECT_ID, receivedEventIds, runRavenNode, SDK_TEST_TIMEOUT, SECRET_KEY, useSdkEnv, text } from "./helpers.ts";

const ERRORS = 4;

describe("raven-node 2.6 through cyclops", () => {
  const env = useSdkEnv();

  test(
    "base64+zlib store bodies with a secret are accepted and delivered decoded, exactly once",
    async () => {
      const run = await runRavenNode(env.dsn({ secret: true }), ERRORS);
      expect(run.child.code, run.child.stderr).toBe(0);
      expect(run.records.length).toBe(ERRORS + 1);
      // What raven-node really sends, so the test proves cyclops takes the old protocol.
      for (const r of run.records) {
        expect(r.headers["X-Sentry-Auth"]).toContain(`sentry_secret=${SECRET_KEY}`);
        expect(r.headers["X-Sentry-Auth"]).toContain("sentry_version=5");
        expect(r.body.startsWith("eJ")).toBe(true); // base64 of a zlib stream
      }
      expect(run.records.map((r) => r.statusCode ?? r.error)).toEqual(run.records.map(() => 200));

      const sent = run.records.map((r) => decodeRavenBody(r.body));
      await env.fake.waitFor(sent.length, 30_000);
      const doc = await env.settle();
      expect(env.fake.violations).toEqual([]);
      expect(compareDeliveries(sent, env.fake.received)).toEqual(NO_DELIVERY_PROBLEMS);
      expect(env.fake.received.every((r) => r.endpoint === "store" && r.projectId === PROJECT_ID)).toBe(true);
      expect(receivedEventIds(env.fake.received).sort()).toEqual(run.records.map((r) => r.eventId).sort());
      // Same JSON document, not just the same bytes by accident of encoding.
      for (const r of env.fake.received) expect(sent.map((b) => JSON.parse(text(b)))).toContainEqual(r.json);
      // Relay never forwards the secret (FORWARD_SECRET_KEY is off).
      expect(env.fake.received.every((r) => r.auth.sentry_secret === undefined)).toBe(true);
      expect(doc).toMatchObject({ count: 0, processed: sent.length, ignored: 0, delivered: sent.length });
    },
    SDK_TEST_TIMEOUT,
  );

  test(
    "a wrong secret is refused with 403 and nothing is forwarded",
    async () => {
      const before = env.fake.received.length;
      const dsn = env.dsn({ secret: true }).replace(SECRET_KEY, "0".repeat(32));
      const run = await runRavenNode(dsn, 1);
      expect(run.child.code, run.child.stderr).toBe(0);
      expect(run.records.map((r) => r.statusCode)).toEqual([403, 403]);
      await env.settle();
      expect(env.fake.received.length).toBe(before);
    },
    SDK_TEST_TIMEOUT,
  );
});

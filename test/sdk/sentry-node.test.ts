/**
 * @sentry/node 11 and 10, unmodified, in a node child process with their own HTTP transport and a
 * DSN pointing at cyclops: errors, a message, a transaction and release-health sessions must all
 * be answered 200 and reach Sentry exactly once, byte for byte as the SDK serialised them.
 */
import { describe, expect, test } from "bun:test";
import { parseEnvelope } from "../helpers/fake-sentry.ts";
import { compareDeliveries, envelopeEventIds, fromBase64, itemTypes, NO_DELIVERY_PROBLEMS, receivedEventIds, runNodeSdk, SDK_TEST_TIMEOUT, useSdkEnv } from "./helpers.ts";

const ERRORS = 5;

for (const [label, pkg] of [
  ["@sentry/node 11", "@sentry/node"],
  ["@sentry/node 10", "sentry-node-10"],
] as const) {
  describe(`${label} through cyclops`, () => {
    const env = useSdkEnv();

    test(
      "errors, a message, a transaction and sessions arrive at Sentry exactly once, unchanged",
      async () => {
        const run = await runNodeSdk(pkg, env.dsn(), "protocol", ERRORS);
        expect(run.child.code, run.child.stderr).toBe(0);
        expect(run.flushed).toBe(true);
        // Every envelope answered 200 by cyclops (the SDK's transport saw the status).
        expect(run.records.map((r) => r.statusCode ?? r.error)).toEqual(run.records.map(() => 200));

        const sent = run.records.map((r) => fromBase64(r.body));
        const sentEnvelopes = sent.map((b) => parseEnvelope(b));
        const sentTypes = sentEnvelopes.flatMap((e) => e.items.map((i) => String(i.headers.type)));
        // What this SDK sent: the errors and the message as events, the transaction as a
        // transaction item (10) or a span v2 container (11 streams spans), and sessions.
        expect(sentTypes.filter((t) => t === "event").length).toBe(ERRORS + 1);
        expect(sentTypes.filter((t) => t === "transaction" || t === "span").length).toBe(1);
        expect(sentTypes.filter((t) => t === "session").length).toBeGreaterThanOrEqual(2);
        const sentEventIds = sentEnvelopes.flatMap((e) => envelopeEventIds(e));

        await env.fake.waitFor(sent.length, 30_000);
        const doc = await env.settle();
        expect(env.fake.violations).toEqual([]);
        expect(compareDeliveries(sent, env.fake.received)).toEqual(NO_DELIVERY_PROBLEMS);
        expect(receivedEventIds(env.fake.received).sort()).toEqual([...sentEventIds].sort());
        expect(env.fake.received.every((r) => r.endpoint === "envelope" && r.projectId === 42)).toBe(true);
        expect(itemTypes(env.fake.received).sort()).toEqual([...sentTypes].sort());
        expect(doc).toMatchObject({ count: 0, processed: sent.length, ignored: 0, delivered: sent.length, rejected: 0, expired: 0 });
      },
      SDK_TEST_TIMEOUT,
    );
  });
}

/**
 * The flood cut against a real SDK: @sentry/node 11 reporting the same error from the same code
 * path 100 times (Dedupe off, one at a time). With MAX_CACHE_USES 3 in a 60 s window, cyclops
 * answers all 100 with 200, forwards exactly the first 3, and /count shows 97 ignored.
 */
import { describe, expect, test } from "bun:test";
import { parseEnvelope } from "../helpers/fake-sentry.ts";
import { compareDeliveries, envelopeEventIds, fromBase64, NO_DELIVERY_PROBLEMS, receivedEventIds, runNodeSdk, SDK_TEST_TIMEOUT, useSdkEnv, text } from "./helpers.ts";

const REPEATS = 100;
const KEPT = 3;

describe("flood cut with @sentry/node 11", () => {
  const env = useSdkEnv({ URL_CACHE_EXPIRATION: 60, MAX_CACHE_USES: KEPT });

  test(
    `the same error ${REPEATS} times: ${KEPT} delivered, ${REPEATS - KEPT} ignored`,
    async () => {
      const run = await runNodeSdk("@sentry/node", env.dsn(), "flood", REPEATS);
      expect(run.child.code, run.child.stderr).toBe(0);
      expect(run.flushed).toBe(true);
      const sent = run.records.map((r) => fromBase64(r.body));
      const events = sent.filter((b) => parseEnvelope(b).items.some((i) => i.headers.type === "event"));
      expect(events.length).toBe(REPEATS);
      // Every report answered 200, dropped or not: the SDK must not retry or back off.
      expect(run.records.map((r) => r.statusCode ?? r.error)).toEqual(run.records.map(() => 200));
      // The same error each time: one message, one stack.
      const messages = new Set(
        events.map((b) => (JSON.parse(text(parseEnvelope(b).items[0]!.payload)) as { exception: { values: Array<{ value: string }> } }).exception.values[0]!.value),
      );
      expect(messages.size).toBe(1);

      const doc = await env.settle();
      expect(env.fake.violations).toEqual([]);
      const delivered = env.fake.received.filter((r) => r.envelope?.items.some((i) => i.headers.type === "event"));
      expect(delivered.length).toBe(KEPT);
      // Sent one at a time, so the ones kept are the first three, unchanged.
      const firstIds = events.slice(0, KEPT).flatMap((b) => envelopeEventIds(parseEnvelope(b)));
      expect(receivedEventIds(delivered).sort()).toEqual(firstIds.sort());
      expect(compareDeliveries(events.slice(0, KEPT), delivered)).toEqual(NO_DELIVERY_PROBLEMS);
      expect(doc).toMatchObject({ count: 0, ignored: REPEATS - KEPT, processed: sent.length - (REPEATS - KEPT) });
    },
    SDK_TEST_TIMEOUT,
  );
});

/**
 * sentry_sdk 1.9.10 (Debian's python3-sentry-sdk, run with /usr/bin/python3), unmodified: errors
 * and log records as gzip JSON to the store endpoint, a transaction and sessions as gzip envelopes.
 * Every request answered 200 and delivered exactly once, decoded bytes equal to what the SDK
 * compressed.
 */
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { describeWithTool } from "../helpers/services.ts";
import { parseEnvelope } from "../helpers/fake-sentry.ts";
import {
  compareDeliveries,
  envelopeEventIds,
  fromBase64,
  itemTypes,
  NO_DELIVERY_PROBLEMS,
  PYTHON,
  receivedEventIds,
  runPythonSdk,
  SDK_TEST_TIMEOUT,
  useSdkEnv,
  text,
} from "./helpers.ts";

const pythonSdkInstalled = () => existsSync(PYTHON) && Bun.spawnSync([PYTHON, "-c", "import sentry_sdk"]).exitCode === 0;

const ERRORS = 3;

describeWithTool("python3-sentry-sdk", pythonSdkInstalled(), "python sentry_sdk 1.9 through cyclops", () => {
  const env = useSdkEnv();

  test(
    "gzip store events and gzip envelopes arrive at Sentry exactly once, unchanged",
    async () => {
      const run = await runPythonSdk(env.dsn(), ERRORS);
      expect(run.child.code, run.child.stderr).toBe(0);
      expect(run.records.map((r) => r.statusCode ?? r.error)).toEqual(run.records.map(() => 200));
      for (const r of run.records) expect(r.headers["Content-Encoding"]).toBe("gzip");

      const store = run.records.filter((r) => r.url.endsWith("/store/"));
      const envelopes = run.records.filter((r) => r.url.endsWith("/envelope/"));
      // errors + capture_message + the logging error go to store; transaction and session to envelope
      expect(store.length).toBe(ERRORS + 2);
      expect(envelopes.length).toBeGreaterThanOrEqual(2);
      for (const r of store) expect(JSON.parse(r.response!)).toEqual({ id: (JSON.parse(text(Bun.gunzipSync(fromBase64(r.body)))) as { event_id: string }).event_id });

      const sent = run.records.map((r) => Bun.gunzipSync(fromBase64(r.body)));
      const sentEventIds = [
        ...store.map((r) => (JSON.parse(text(Bun.gunzipSync(fromBase64(r.body)))) as { event_id: string }).event_id),
        ...envelopes.flatMap((r) => envelopeEventIds(parseEnvelope(Bun.gunzipSync(fromBase64(r.body))))),
      ];
      const sentTypes = envelopes.flatMap((r) => parseEnvelope(Bun.gunzipSync(fromBase64(r.body))).items.map((i) => String(i.headers.type)));
      expect(sentTypes).toContain("transaction");
      expect(sentTypes).toContain("session");

      await env.fake.waitFor(sent.length, 30_000);
      const doc = await env.settle();
      expect(env.fake.violations).toEqual([]);
      expect(compareDeliveries(sent, env.fake.received)).toEqual(NO_DELIVERY_PROBLEMS);
      expect(receivedEventIds(env.fake.received).sort()).toEqual(sentEventIds.sort());
      expect(env.fake.received.filter((r) => r.endpoint === "store").length).toBe(store.length);
      expect(
        itemTypes(env.fake.received)
          .filter((t) => !t.startsWith("store:"))
          .sort(),
      ).toEqual(sentTypes.sort());
      expect(doc).toMatchObject({ count: 0, processed: sent.length, ignored: 0, delivered: sent.length });
    },
    SDK_TEST_TIMEOUT,
  );
});

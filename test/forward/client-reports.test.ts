import { afterEach, describe, expect, test } from "bun:test";
import { clientReportEnvelope, pendingByProject } from "../../src/forward/client-reports.ts";
import { parseEnvelope, startFakeSentry, type FakeSentry, type Received } from "../helpers/fake-sentry.ts";
import { harness, keyOf, storeItem, until, type Harness } from "./setup.ts";

let sentry: FakeSentry | null = null;
let h: Harness | null = null;

afterEach(async () => {
  await h?.forwarder.stop(0);
  await sentry?.stop();
  h = null;
  sentry = null;
});

interface Report {
  timestamp: string;
  discarded_events: Array<{ reason: string; category: string; quantity: number }>;
}
const reportOf = (r: Received): Report => {
  expect(r.endpoint).toBe("envelope");
  const items = r.envelope!.items;
  expect(items.map((i) => i.headers.type)).toEqual(["client_report"]);
  return items[0]!.json as Report;
};
const sorted = (events: Report["discarded_events"]) => [...events].sort((a, b) => (a.reason + a.category).localeCompare(b.reason + b.category));

describe("client reports", () => {
  test("the envelope is well formed", () => {
    const env = clientReportEnvelope([{ key: "1|sample_rate|error", reason: "sample_rate", category: "error", quantity: 4 }], Date.parse("2024-01-02T03:04:05Z"));
    const parsed = parseEnvelope(env);
    expect(parsed.items).toHaveLength(1);
    expect(parsed.items[0]!.json).toEqual({ timestamp: "2024-01-02T03:04:05.000Z", discarded_events: [{ reason: "sample_rate", category: "error", quantity: 4 }] });
  });

  test("groups pending discards by project and skips zeroes", () => {
    const pending = pendingByProject(
      new Map([
        ["1|a|error", 2],
        ["2|b|transaction", 1],
        ["1|c|error", 0],
      ] as const),
    );
    expect([...pending.keys()].sort()).toEqual([1, 2]);
    expect(pending.get(1)).toEqual([{ key: "1|a|error", reason: "a", category: "error", quantity: 2 }]);
  });

  test("each project gets its report with exact quantities, authenticated with its key, sent once", async () => {
    sentry = await startFakeSentry({ keys: { 1: [keyOf(1)], 2: [keyOf(2)] } });
    h = harness({ SENTRY_BASE_URL: sentry.url }, { keyFor: (id) => (id === 3 ? undefined : keyOf(id)) });
    h.stats.discard(1, "event_processor", "error", 5);
    h.stats.discard(1, "sample_rate", "error", 2);
    h.stats.discard(1, "event_processor", "error");
    h.stats.discard(2, "queue_overflow", "transaction", 3);
    h.stats.discard(3, "queue_overflow", "error", 9); // no key known: kept for later

    expect(await h.forwarder.reportDiscards()).toBe(2);
    expect(sentry.violations).toEqual([]);
    expect(sentry.received).toHaveLength(2);
    const byProject = new Map(sentry.received.map((r) => [r.projectId, r]));
    expect(byProject.get(1)!.auth.sentry_key).toBe(keyOf(1));
    expect(sorted(reportOf(byProject.get(1)!).discarded_events)).toEqual([
      { reason: "event_processor", category: "error", quantity: 6 },
      { reason: "sample_rate", category: "error", quantity: 2 },
    ]);
    expect(reportOf(byProject.get(2)!).discarded_events).toEqual([{ reason: "queue_overflow", category: "transaction", quantity: 3 }]);
    expect(Date.parse(reportOf(byProject.get(2)!).timestamp)).not.toBeNaN();

    // Counts are sent once: nothing more for 1 and 2; project 3 still pending.
    expect(await h.forwarder.reportDiscards()).toBe(0);
    expect(sentry.received).toHaveLength(2);
    expect([...h.stats.discarded]).toEqual([["3|queue_overflow|error", 9]]);

    // What is discarded afterwards goes in the next report, alone.
    h.stats.discard(1, "sample_rate", "error");
    expect(await h.forwarder.reportDiscards()).toBe(1);
    expect(reportOf(sentry.received[2]!).discarded_events).toEqual([{ reason: "sample_rate", category: "error", quantity: 1 }]);
  });

  test("counts stay pending until Sentry answers 2xx", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ status: 500 });
    h = harness({ SENTRY_BASE_URL: sentry.url }, { keyFor: keyOf });
    h.stats.discard(4, "event_processor", "error", 7);
    expect(await h.forwarder.reportDiscards()).toBe(0);
    expect(h.stats.discarded.get("4|event_processor|error")).toBe(7);
    sentry.setBehaviour({ status: undefined });
    expect(await h.forwarder.reportDiscards()).toBe(1);
    expect(reportOf(sentry.received[0]!).discarded_events).toEqual([{ reason: "event_processor", category: "error", quantity: 7 }]);
    expect(h.stats.discarded.size).toBe(0);
  });

  test("rejected and expired reports are reported with keys learned from the items, on the timer", async () => {
    sentry = await startFakeSentry();
    sentry.setBehaviour({ status: 400 });
    h = harness({ SENTRY_BASE_URL: sentry.url, CLIENT_REPORTS: true, CLIENT_REPORT_INTERVAL: 0.1, MAX_ITEM_AGE: 60 });
    h.queue.push(storeItem(6));
    h.queue.push(storeItem(6));
    h.queue.push(storeItem(6, { receivedAt: Date.now() - 120_000 }));
    h.forwarder.start();
    await until(() => h!.stats.forwarded.rejected === 2 && h!.stats.forwarded.expired === 1, "2 rejected, 1 expired");
    sentry.setBehaviour({ status: undefined });
    await sentry.waitFor(1);
    await until(() => h!.stats.discarded.size === 0, "discards reported");
    await Bun.sleep(300); // a few more timer ticks: nothing is sent twice
    expect(sentry.received).toHaveLength(1);
    expect(sentry.received[0]!.auth.sentry_key).toBe(keyOf(6));
    expect(sorted(reportOf(sentry.received[0]!).discarded_events)).toEqual([
      { reason: "network_error", category: "error", quantity: 1 },
      { reason: "send_error", category: "error", quantity: 2 },
    ]);
    expect(sentry.violations).toEqual([]);
  });
});

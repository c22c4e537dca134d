/**
 * Client reports end to end: cyclops in front of the strict fake Sentry tells Sentry, per
 * project and with that project's own key, exactly what it dropped (floods as event_processor,
 * samples as sample_rate) or refused with a 429 of its own (a full queue as rate-limited
 * queue_full), each reported once; with
 * CLIENT_REPORTS false it tells nothing.
 */
import { describe, expect, test } from "bun:test";
import type { FakeSentry, Received } from "../helpers/fake-sentry.ts";
import type { TestGateway } from "../helpers/gateway.ts";
import { keyedGateway, newEventId, sentryAuth } from "../helpers/keyed-gateway.ts";

const KEYS: Record<number, string> = {
  1: "c1a0000000000000000000000000000a",
  2: "c2b0000000000000000000000000000b",
  3: "c3c0000000000000000000000000000c",
};
const INTERVAL_S = 0.3;

const { start, store } = keyedGateway(KEYS, { PACING: "adaptive", CLIENT_REPORTS: true, CLIENT_REPORT_INTERVAL: INTERVAL_S });
function envelope(g: TestGateway, projectId: number, header: object, type: string, payload: object): Promise<Response> {
  return fetch(`${g.url}/api/${projectId}/envelope/`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-sentry-envelope",
      "X-Sentry-Auth": sentryAuth(KEYS[projectId]!),
    },
    body: `${JSON.stringify(header)}\n${JSON.stringify({ type })}\n${JSON.stringify(payload)}\n`,
  });
}

function transactionEnvelope(g: TestGateway, projectId: number): Promise<Response> {
  const id = newEventId();
  const now = Date.now() / 1000;
  const trace = { trace_id: newEventId(), span_id: newEventId().slice(0, 16) };
  return envelope(g, projectId, { event_id: id }, "transaction", {
    event_id: id,
    type: "transaction",
    transaction: "/checkout",
    start_timestamp: now - 0.1,
    timestamp: now,
    contexts: { trace },
  });
}

function sessionEnvelope(g: TestGateway, projectId: number): Promise<Response> {
  return envelope(g, projectId, {}, "session", { sid: newEventId(), init: true, started: new Date().toISOString(), status: "ok", attrs: { release: "r@1" } });
}

/** The client_report envelopes Sentry took, with the project and key they came with. */
function clientReports(received: Received[]) {
  return received.flatMap((r) =>
    (r.envelope?.items ?? [])
      .filter((i) => i.headers.type === "client_report")
      .map((i) => ({
        projectId: r.projectId,
        key: r.auth.sentry_key,
        envelopeItems: r.envelope!.items.length,
        report: i.json as {
          discarded_events?: Array<{ reason: string; category: string; quantity: number }>;
          rate_limited_events?: Array<{ reason: string; category: string; quantity: number }>;
        },
      })),
  );
}

/**
 * Quantities reported for a project, summed over every report: "reason:category" → quantity for
 * discarded_events, "rate_limited:reason:category" for rate_limited_events.
 */
function reportedDrops(received: Received[], projectId: number): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (key: string, n: number) => (out[key] = (out[key] ?? 0) + n);
  for (const r of clientReports(received)) {
    if (r.projectId !== projectId) continue;
    for (const d of r.report.discarded_events ?? []) add(`${d.reason}:${d.category}`, d.quantity);
    for (const d of r.report.rate_limited_events ?? []) add(`rate_limited:${d.reason}:${d.category}`, d.quantity);
  }
  return out;
}

const total = (drops: Record<string, number>) => Object.values(drops).reduce((a, b) => a + b, 0);

/** Waits until the reports for `projectId` add up to `quantity` (bounded), then returns them. */
async function waitForReported(fake: FakeSentry, projectId: number, quantity: number, timeoutMs = 10_000): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const drops = reportedDrops(fake.received, projectId);
    if (total(drops) >= quantity || Date.now() > deadline) return drops;
    await Bun.sleep(20);
  }
}

async function metric(g: TestGateway, name: string): Promise<number> {
  const text = await (await fetch(`${g.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}

describe("client reports to Sentry", () => {
  test("floods and samples are reported per project, with that project's key, exactly once", async () => {
    const { fake, g } = await start({ MAX_CACHE_USES: 3, URL_CACHE_EXPIRATION: 60, IGNORE_PERCENTAGE: { "2": 100 } });
    // Project 1: the same error 50 times → 3 forwarded, 47 dropped as a flood.
    for (let i = 0; i < 50; i++) expect((await store(g, 1, { message: "the same error, again and again" })).status).toBe(200);
    // Project 2: everything sampled out (10 errors, 2 transactions); one session gets through
    // (sessions are not sampled), so cyclops forwards something of project 2.
    for (let i = 0; i < 10; i++) expect((await store(g, 2, { message: `sampled error ${i}` })).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await transactionEnvelope(g, 2)).status).toBe(200);
    expect((await sessionEnvelope(g, 2)).status).toBe(200);

    expect(await metric(g, 'cyclops_reports_dropped_total{reason="flood"}')).toBe(47);
    expect(await metric(g, 'cyclops_reports_dropped_total{reason="sampled"}')).toBe(12);

    const p1 = await waitForReported(fake, 1, 47);
    const p2 = await waitForReported(fake, 2, 12);
    // A few more intervals: a report sent twice (or counts not subtracted) would show here.
    await Bun.sleep(INTERVAL_S * 1000 * 4);
    expect(fake.violations).toEqual([]);
    expect(reportedDrops(fake.received, 1)).toEqual({ "event_processor:error": 47 });
    expect(reportedDrops(fake.received, 2)).toEqual({ "sample_rate:error": 10, "sample_rate:transaction": 2 });
    expect(p1).toEqual({ "event_processor:error": 47 });
    expect(p2).toEqual({ "sample_rate:error": 10, "sample_rate:transaction": 2 });

    const reports = clientReports(fake.received);
    for (const r of reports) {
      // Each on the project's own envelope endpoint, with that project's key, alone in its envelope.
      expect(r.key).toBe(KEYS[r.projectId]!);
      expect(r.envelopeItems).toBe(1);
      for (const d of r.report.discarded_events ?? []) expect(d.quantity).toBeGreaterThan(0);
    }
    expect(new Set(reports.map((r) => r.projectId))).toEqual(new Set([1, 2]));
    expect(fake.received.filter((r) => r.endpoint === "store").length).toBe(3);
  });

  test("a project whose every report was dropped still gets its client report (key from the registry)", async () => {
    // Nothing of project 2 is ever forwarded, so cyclops cannot learn its key from a forwarded
    // item: it must take one from the project keys it holds.
    const { fake, g } = await start({ IGNORE_PERCENTAGE: { "2": 100 } });
    for (let i = 0; i < 10; i++) expect((await store(g, 2, { message: `sampled error ${i}` })).status).toBe(200);
    const drops = await waitForReported(fake, 2, 10, 5000);
    expect(fake.violations).toEqual([]);
    expect(drops).toEqual({ "sample_rate:error": 10 });
    expect(clientReports(fake.received).every((r) => r.projectId === 2 && r.key === KEYS[2])).toBe(true);
  });

  test("reports answered 429 because the queue is full are reported as rate-limited, reason queue_full", async () => {
    // Sentry answers slowly, so the first items stay in the queue (leased) and it fills up.
    const { fake, g } = await start({ MAX_QUEUE_ITEMS: 2, URL_CACHE_EXPIRATION: 0 });
    fake.setBehaviour({ latencyMs: 1500 });
    let refused = 0;
    let accepted = 0;
    for (let i = 0; i < 40 && refused < 5; i++) {
      const res = await store(g, 3, { message: `distinct error ${i}` });
      if (res.status === 429) refused++;
      else if (res.status === 200) accepted++;
      else throw new Error(`unexpected status ${res.status}: ${await res.text()}`);
    }
    expect(refused).toBe(5);
    expect(await metric(g, 'cyclops_reports_dropped_total{reason="queue_full"}')).toBe(refused);
    fake.setBehaviour({ latencyMs: 0 });
    await fake.waitFor(accepted, 10_000);
    const drops = await waitForReported(fake, 3, refused, 5000);
    await Bun.sleep(INTERVAL_S * 1000 * 4);
    expect(fake.violations).toEqual([]);
    expect(fake.received.filter((r) => r.endpoint === "store").length).toBe(accepted);
    expect(drops).toEqual({ "rate_limited:queue_full:error": refused });
    expect(reportedDrops(fake.received, 3)).toEqual({ "rate_limited:queue_full:error": refused });
  });

  test("CLIENT_REPORTS false: drops are counted but never reported", async () => {
    const { fake, g } = await start({ CLIENT_REPORTS: false, MAX_CACHE_USES: 1, URL_CACHE_EXPIRATION: 60, IGNORE_PERCENTAGE: { "2": 100 } });
    for (let i = 0; i < 10; i++) expect((await store(g, 1, { message: "flooding error" })).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await store(g, 2, { message: `sampled ${i}` })).status).toBe(200);
    await fake.waitFor(1);
    expect(await metric(g, 'cyclops_reports_dropped_total{reason="flood"}')).toBe(9);
    expect(await metric(g, 'cyclops_reports_dropped_total{reason="sampled"}')).toBe(5);
    // Several intervals' worth of time: nothing but the one forwarded event reaches Sentry.
    await Bun.sleep(INTERVAL_S * 1000 * 5);
    expect(fake.violations).toEqual([]);
    expect(clientReports(fake.received)).toEqual([]);
    expect(fake.received.length).toBe(1);
  });
});

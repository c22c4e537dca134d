/**
 * Issue 19 item 6, over one run that mixes every way a report can end at ingest: for every
 * project and category, the reports answered 200 equal what Sentry received plus what cyclops
 * reported to it as dropped (client reports), exactly; and the refused (queue full) equal what it
 * reported as rate-limited, queue_full. Two projects, errors and transactions, through the in-process
 * gateway (build().handle) in front of the fake Sentry: a flood of one error (the flood cut),
 * IGNORE_PERCENTAGE on project 1 (sampling), spike protection in enforce with the novelty lane, and
 * a queue that fills while the forwarder is stopped. Everything is counted from what the fake
 * Sentry received, not from cyclops's own counters.
 */
import { afterAll, expect, test } from "bun:test";
import { loadConfig } from "../../src/config/load.ts";
import { build, type Parts } from "../../src/gateway/gateway.ts";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import { until } from "../helpers/wait.ts";

const KEYS: Record<number, string> = { 1: "acc00000000000000000000000000001", 2: "acc00000000000000000000000000002" };
let fake: FakeSentry | undefined;
let parts: Parts | undefined;
afterAll(async () => {
  await parts?.close();
  await fake?.stop();
});

const eventId = () => crypto.randomUUID().replace(/-/g, "");
const auth = (projectId: number) => `Sentry sentry_version=7, sentry_client=cyclops-test/1.0, sentry_key=${KEYS[projectId]}`;

/** An error with an exception: its group is its type and message (no frames), so `group` names the flood key. */
function error(projectId: number, group: string): Request {
  const body = JSON.stringify({ event_id: eventId(), level: "error", exception: { values: [{ type: `Error_${group}`, value: group }] } });
  return new Request(`http://cyclops.test/api/${projectId}/store/`, {
    method: "POST",
    headers: { "X-Sentry-Auth": auth(projectId), "Content-Type": "application/json" },
    body,
  });
}

function transaction(projectId: number): Request {
  const id = eventId();
  const item = JSON.stringify({
    type: "transaction",
    event_id: id,
    transaction: "/checkout",
    start_timestamp: 1,
    timestamp: 2,
    contexts: { trace: { trace_id: id, span_id: id.slice(0, 16) } },
  });
  const body = `${JSON.stringify({ event_id: id })}\n${JSON.stringify({ type: "transaction", length: Buffer.byteLength(item) })}\n${item}\n`;
  return new Request(`http://cyclops.test/api/${projectId}/envelope/`, {
    method: "POST",
    headers: { "X-Sentry-Auth": auth(projectId), "Content-Type": "application/x-sentry-envelope" },
    body,
  });
}

type Tally = Record<string, number>;
const add = (t: Tally, key: string, n = 1) => void (t[key] = (t[key] ?? 0) + n);

test("over floods, sampling, spikes and a full queue, answered 200 = delivered + reported, per project and category, exactly", async () => {
  fake = await startFakeSentry({ keys: { 1: [KEYS[1]!], 2: [KEYS[2]!] } });
  const { config } = loadConfig({
    env: {},
    flags: {
      SENTRY_BASE_URL: fake.url,
      PROJECT_KEYS: [
        [1, KEYS[1]!, null],
        [2, KEYS[2]!, null],
      ],
      CLIENT_REPORTS: true,
      CLIENT_REPORT_INTERVAL: 3600, // sent below, by hand, once everything is delivered
      URL_CACHE_EXPIRATION: 60,
      MAX_CACHE_USES: 3,
      IGNORE_PERCENTAGE: { "1": 25 },
      SPIKE_PROTECTION: "enforce",
      SPIKE_MIN_PER_MINUTE: 60,
      MAX_QUEUE_ITEMS: 60,
    },
  });
  parts = await build(config);
  await parts.deps.keys.refresh();

  // Ingest with the forwarder stopped, so the queue fills: per project, a storm of one error, new
  // errors through it (the novelty lane), and transactions (their own spike lane).
  const jobs: Array<[number, string, () => Request]> = [];
  for (let i = 0; i < 300; i++) {
    jobs.push([1, "error", () => error(1, "the storm")]);
    if (i % 6 === 0) jobs.push([1, "error", () => error(1, `new #${i}`)]);
    if (i % 3 === 0) jobs.push([1, "transaction", () => transaction(1)]);
    if (i % 5 === 0) jobs.push([2, i % 10 === 0 ? "error" : "transaction", () => (i % 10 === 0 ? error(2, `p2 #${i % 40}`) : transaction(2))]);
  }
  const answered: Tally = {};
  const refused: Tally = {};
  for (const [projectId, category, request] of jobs) {
    const res = await parts.handle(request());
    await res.arrayBuffer();
    add(res.status === 200 ? answered : refused, `${projectId}:${category}`);
  }

  // Deliver everything queued, then the client reports of every drop.
  parts.forwarder.start();
  const sentryHas = () => fake!.received.filter((r) => !r.envelope?.items.some((i) => i.headers.type === "client_report")).length;
  await until("the queue delivered", () => parts!.deps.queue.approxItems === 0 && fake!.inFlight === 0 && sentryHas() === parts!.deps.stats.processed, 20_000);
  await parts.forwarder.reportDiscards();

  const delivered: Tally = {};
  const reported: Record<string, Tally> = {};
  for (const r of fake.received) {
    if (r.endpoint === "store") add(delivered, `${r.projectId}:error`);
    for (const item of r.envelope?.items ?? []) {
      const type = item.headers.type as string;
      if (type === "event" || type === "transaction") add(delivered, `${r.projectId}:${type === "event" ? "error" : type}`);
      if (type !== "client_report") continue;
      // Drops answered 200 are discarded_events; cyclops's own 429s (queue full) rate_limited_events.
      const report = item.json as Record<"discarded_events" | "rate_limited_events", Array<{ reason: string; category: string; quantity: number }> | undefined>;
      for (const d of [...(report.discarded_events ?? []), ...(report.rate_limited_events ?? [])]) add((reported[d.reason] ??= {}), `${r.projectId}:${d.category}`, d.quantity);
    }
  }
  const droppedAfter200 = ["spike_protection", "sample_rate", "event_processor"];
  const lines = Object.keys({ ...answered, ...refused })
    .sort()
    .map((pc) => {
      const each = droppedAfter200.map((reason) => reported[reason]?.[pc] ?? 0);
      return { pc, answered: answered[pc] ?? 0, delivered: delivered[pc] ?? 0, each, refused: refused[pc] ?? 0, overflow: reported.queue_full?.[pc] ?? 0 };
    });
  for (const l of lines) {
    console.log(
      `project:category ${l.pc}: answered 200 ${l.answered} = delivered ${l.delivered} + spike ${l.each[0]} + sampled ${l.each[1]} + flood ${l.each[2]}; refused ${l.refused} = queue_full ${l.overflow}`,
    );
  }
  for (const l of lines) {
    expect({ pc: l.pc, sum: l.delivered + l.each.reduce((a, b) => a + b, 0) }).toEqual({ pc: l.pc, sum: l.answered });
    expect({ pc: l.pc, overflow: l.overflow }).toEqual({ pc: l.pc, overflow: l.refused });
  }
  // The run did mix them all: each way out was taken, on both projects and categories.
  expect(lines.map((l) => l.pc)).toEqual(["1:error", "1:transaction", "2:error", "2:transaction"]);
  for (const reason of [...droppedAfter200, "queue_full"]) expect(Object.values(reported[reason] ?? {}).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  expect(reported.spike_protection?.["1:transaction"]).toBeGreaterThan(0);
  expect(reported.sample_rate?.["2:error"] ?? 0).toBe(0); // sampling is project 1's only
  expect(fake.violations).toEqual([]);
}, 60_000);

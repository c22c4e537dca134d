/**
 * The outcome list is complete: every outcome declares all it must, and stats, /metrics, /count
 * and client reports all follow from the declaration (no reason kept by hand elsewhere).
 */
import { describe, expect, test } from "bun:test";
import { KeyRegistry } from "../../src/keys/registry.ts";
import { ALL_OUTCOMES, OUTCOMES, type OutcomeSpec } from "../../src/outcome/outcomes.ts";
import { Stats } from "../../src/stats/counters.ts";
import { Metrics } from "../../src/stats/metrics.ts";
import { countDocument, NO_LATENCY } from "../../src/stats/count-document.ts";
import { MemoryQueue } from "../../src/storage/memory.ts";

const FIELDS: (keyof OutcomeSpec)[] = ["series", "countField", "perProject", "clientReport", "category", "answers", "description"];

describe("every outcome declares", () => {
  for (const o of ALL_OUTCOMES) {
    test(o.name, () => {
      for (const field of FIELDS) expect({ outcome: o.name, field, declared: o[field] !== undefined }).toEqual({ outcome: o.name, field, declared: true });
      expect(o.name).toMatch(/^[a-z][a-z_]*$/); // a Prometheus label value and a JSON field name
      expect(o.description.length).toBeGreaterThan(10);
      // A client-report reason needs a category to count in, and only a reported outcome has one.
      expect(o.clientReport === null).toBe(o.category === null);
      if (o.perProject) expect(["processed", "ignored", "delivered"]).toContain(o.countField!);
      // Ingest outcomes say what the client was answered; the forwarder's answered nobody.
      expect(o.answers.length === 0).toBe(o.series === "forwarded");
      // Answered 200 and dropped: the client believes it was sent, so Sentry must hear of it.
      if (o.series === "dropped" && o.answers.includes(200)) expect(o.clientReport).not.toBeNull();
    });
  }
});

test("Stats.record applies an outcome: its counter, its project's count and its client-report discard", async () => {
  const stats = new Stats();
  for (const o of ALL_OUTCOMES) stats.record(o, 7, "error");
  for (const o of ALL_OUTCOMES) expect({ name: o.name, n: stats.counted(o) }).toEqual({ name: o.name, n: 1 });
  const reasons = new Set(ALL_OUTCOMES.filter((o) => o.clientReport !== null).map((o) => `7|${o.clientReport}|error`));
  expect([...stats.discarded.keys()].sort() as string[]).toEqual([...reasons].sort());
  const perProject = (field: string) => ALL_OUTCOMES.filter((o) => o.perProject && o.countField === field).length;
  expect(stats.perProject.get(7)).toEqual({ processed: perProject("processed"), ignored: perProject("ignored"), delivered: perProject("delivered") });
  expect(perProject("ignored")).toBe(3); // flood, sampled, spike

  // /count: each field is the sum of the outcomes that declare it.
  const keys = new KeyRegistry([]);
  const doc = countDocument(stats, 0, NO_LATENCY, keys);
  for (const field of ["processed", "ignored", "delivered", "retried", "rejected", "expired"] as const) {
    expect({ field, n: doc[field] }).toEqual({ field, n: ALL_OUTCOMES.filter((o) => o.countField === field).length });
  }

  // /metrics: every accepted, dropped and forwarded outcome has its series and label.
  const queue = new MemoryQueue({ maxItems: 10, maxBytes: 1 << 20 } as never);
  const text = await new Metrics({ stats, queue, keys }).text();
  for (const o of ALL_OUTCOMES) {
    const line =
      o.series === "accepted"
        ? `cyclops_reports_accepted_total{project="7"} 1`
        : o.series === "dropped"
          ? `cyclops_reports_dropped_total{reason="${o.name}"} 1`
          : `cyclops_forwarded_total{outcome="${o.name}"} 1`;
    expect(text).toContain(line);
  }
});

test("a rejection without a project counts, and reports nothing to Sentry", () => {
  const stats = new Stats();
  stats.record(OUTCOMES.unknown_key, null, null);
  expect(stats.dropped.unknown_key).toBe(1);
  expect(stats.discarded.size).toBe(0);
  expect(stats.perProject.size).toBe(0);
});

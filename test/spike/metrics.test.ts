import { expect, test } from "bun:test";
import client from "prom-client";
import { SpikeLimiter } from "../../src/spike/limiter.ts";
import { registerSpikeMetrics } from "../../src/spike/metrics.ts";
import { MONDAY } from "./replay.ts";

test("/metrics shows each active episode's limit, observed rate and would-drop count, and the decisions", async () => {
  const registry = new client.Registry();
  const limiter = new SpikeLimiter({ mode: "enforce", floor: 60, projects: { "2": { mode: "shadow" } } });
  registerSpikeMetrics(registry, limiter);
  for (let i = 0; i < 100; i++) limiter.check(1, "error", null, MONDAY + i);
  for (let i = 0; i < 50; i++) limiter.check(2, "transaction", null, MONDAY + i);
  const text = await registry.metrics();
  expect(text).toContain('cyclops_spike_episode_limit_per_minute{project="1",category="error",mode="enforce"} 60');
  expect(text).toContain('cyclops_spike_episode_observed_per_minute{project="2",category="transaction",mode="shadow"} 50');
  expect(text).toContain('cyclops_spike_episode_reports{project="1",category="error",mode="enforce",outcome="dropped"} 90');
  expect(text).toContain('cyclops_spike_episode_reports{project="2",category="transaction",mode="shadow",outcome="would_drop"} 40');
  expect(text).toContain('cyclops_spike_reports_total{verdict="would_drop"} 40');
  expect(text).toContain('cyclops_spike_reports_total{verdict="passed"} 20');
  // an episode that ends leaves the gauges
  limiter.tick(MONDAY + 120_000);
  expect(await registry.metrics()).not.toContain("cyclops_spike_episode_limit_per_minute{");
});

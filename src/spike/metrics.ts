/**
 * Spike protection's /metrics series, read from the limiter when scraped (nothing is counted on
 * the request path for them): what every check decided, and each active episode's limit,
 * observed rate and reports (dropped, or would-drop in shadow). Labelled by project and lane, which
 * are bounded (MAX_SPIKE_PROJECTS, LANES).
 */
import client from "prom-client";
import type { SpikeLimiter } from "./limiter.ts";

export function registerSpikeMetrics(registry: client.Registry, limiter: SpikeLimiter): void {
  const registers = [registry];
  new client.Counter({
    name: "cyclops_spike_reports_total",
    help: "Spike protection's decisions: passed (under the limit), novel (over it, passed by the novelty lane), dropped (enforce), would_drop (shadow: delivered).",
    labelNames: ["verdict"],
    registers,
    collect() {
      this.reset();
      const t = limiter.totals;
      this.inc({ verdict: "passed" }, t.passed);
      this.inc({ verdict: "novel" }, t.novel);
      this.inc({ verdict: "dropped" }, t.dropped);
      this.inc({ verdict: "would_drop" }, t.wouldDropped);
    },
  });
  const labelNames = ["project", "category", "mode"] as const;
  // Scraped in registration order: the first gauge fills all three from one look at the episodes.
  const observed = new client.Gauge({
    name: "cyclops_spike_episode_observed_per_minute",
    help: "Reports offered per minute (the last whole minute or this one so far) of each project and category in an active spike episode.",
    labelNames,
    registers: [],
  });
  const reports = new client.Gauge({
    name: "cyclops_spike_episode_reports",
    help: "Reports of each active spike episode so far, by outcome: accepted, novel (passed by the novelty lane), dropped (enforce) or would_drop (shadow).",
    labelNames: [...labelNames, "outcome"],
    registers: [],
  });
  new client.Gauge({
    name: "cyclops_spike_episode_limit_per_minute",
    help: "Limit of each project and category in an active spike episode, reports per minute.",
    labelNames,
    registers,
    collect() {
      this.reset();
      observed.reset();
      reports.reset();
      for (const e of limiter.episodes()) {
        const labels = { project: String(e.projectId), category: e.category, mode: e.mode };
        this.set(labels, e.limitPerMinute);
        observed.set(labels, e.observedPerMinute);
        reports.set({ ...labels, outcome: "accepted" }, e.accepted);
        reports.set({ ...labels, outcome: "novel" }, e.novel);
        reports.set({ ...labels, outcome: e.mode === "shadow" ? "would_drop" : "dropped" }, e.dropped);
      }
    },
  });
  registry.registerMetric(observed);
  registry.registerMetric(reports);
}

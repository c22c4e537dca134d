/**
 * /metrics in Prometheus text format, through prom-client (the standard Node client: exposition
 * format, escaping and histograms done right). Every metric is declared once here with its help
 * text. Counters are not incremented on the request path: they are read from the plain fields of
 * Stats when scraped (collect callbacks), so ingest pays nothing for metrics. Per-project series are
 * labelled by project id only (bounded by the projects that have keys), never by payload.
 */
import client from "prom-client";
import type { KeyRegistry } from "../keys/registry.ts";
import type { Queue } from "../storage/queue.ts";
import { OUTCOMES, outcomeNames, type OutcomeSpec } from "../outcome/outcomes.ts";
import { MAX_PENDING_DISCARDS, MAX_TRACKED_PROJECTS, type Stats } from "./counters.ts";

/** "name = description; …" of the outcomes one series counts, for its help text. */
const outcomeHelp = (series: OutcomeSpec["series"]): string =>
  outcomeNames(series)
    .map((n) => `${n} = ${OUTCOMES[n].description}`)
    .join("; ");

/** What ingest holds in memory besides the queue. */
export interface IngestMemory {
  bodiesInFlightBytes: number;
  heldReports: number;
  heldBytes: number;
}

export interface MetricsSources {
  stats: Stats;
  queue: Queue;
  keys: KeyRegistry;
  /** Bytes of request bodies in flight and reports held while keys load (admission's), when there is an admission. */
  ingestMemory?: () => IngestMemory;
  now?: () => number;
}

/** Upstream latency buckets in seconds: Sentry answers in ms when healthy and in seconds when not. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class Metrics {
  readonly registry = new client.Registry();
  private readonly upstreamLatency: client.Histogram;

  constructor(src: MetricsSources) {
    const { stats, queue, keys } = src;
    const now = src.now ?? Date.now;
    const r = [this.registry];

    new client.Counter({
      name: "cyclops_requests_received_total",
      help: "Requests that reached an ingest route (store, envelope), whatever became of them.",
      registers: r,
      collect() {
        this.reset();
        this.inc(stats.received);
      },
    });
    new client.Counter({
      name: "cyclops_untracked_counts_total",
      help: `Per-project counts and client-report entries not kept because ${MAX_TRACKED_PROJECTS} projects or ${MAX_PENDING_DISCARDS} pending discard entries were already tracked (totals still count them).`,
      registers: r,
      collect() {
        this.reset();
        this.inc(stats.untracked);
      },
    });
    new client.Counter({
      name: "cyclops_reports_accepted_total",
      help: "Reports accepted and queued, per project (the original's `processed`).",
      labelNames: ["project"],
      registers: r,
      collect() {
        this.reset();
        for (const [id, p] of stats.perProject) if (p.processed) this.inc({ project: String(id) }, p.processed);
      },
    });
    new client.Counter({
      name: "cyclops_reports_dropped_total",
      help: `Reports not queued, by reason: ${outcomeHelp("dropped")}.`,
      labelNames: ["reason"],
      registers: r,
      collect() {
        this.reset();
        for (const reason of outcomeNames("dropped")) this.inc({ reason }, stats.dropped[reason]);
      },
    });
    new client.Counter({
      name: "cyclops_reports_ignored_total",
      help: "Reports answered and dropped as flood or sample, per project (the original's `ignored`).",
      labelNames: ["project"],
      registers: r,
      collect() {
        this.reset();
        for (const [id, p] of stats.perProject) if (p.ignored) this.inc({ project: String(id) }, p.ignored);
      },
    });
    new client.Counter({
      name: "cyclops_forwarded_total",
      help: `Forwarded items by outcome: ${outcomeHelp("forwarded")}.`,
      labelNames: ["outcome"],
      registers: r,
      collect() {
        this.reset();
        for (const outcome of outcomeNames("forwarded")) this.inc({ outcome }, stats.forwarded[outcome]);
      },
    });
    new client.Counter({
      name: "cyclops_delivered_total",
      help: "Items Sentry answered 2xx to, per project.",
      labelNames: ["project"],
      registers: r,
      collect() {
        this.reset();
        for (const [id, p] of stats.perProject) if (p.delivered) this.inc({ project: String(id) }, p.delivered);
      },
    });
    new client.Gauge({
      name: "cyclops_queue_items",
      help: "Items waiting in the queue (leased ones included).",
      registers: r,
      collect: async function () {
        const s = await queue.stats().catch(() => null);
        this.set(s ? s.items : queue.approxItems);
      },
    });
    new client.Gauge({
      name: "cyclops_queue_bytes",
      help: "Body bytes waiting in the queue.",
      registers: r,
      collect: async function () {
        const s = await queue.stats().catch(() => null);
        if (s) this.set(s.bytes);
      },
    });
    const ingestMemory = src.ingestMemory;
    if (ingestMemory) {
      const gauge = (name: string, help: string, read: (m: IngestMemory) => number) =>
        new client.Gauge({
          name,
          help,
          registers: r,
          collect() {
            this.set(read(ingestMemory()));
          },
        });
      gauge("cyclops_bodies_in_flight_bytes", "Bytes of request bodies being read and decoded now (bounded by MAX_INFLIGHT_BYTES).", (m) => m.bodiesInFlightBytes);
      gauge("cyclops_held_reports", "Reports held while project keys load for the first time.", (m) => m.heldReports);
      gauge("cyclops_held_bytes", "Body bytes of reports held while project keys load (bounded by MAX_PENDING_BYTES).", (m) => m.heldBytes);
    }
    new client.Gauge({
      name: "cyclops_upstream_in_flight",
      help: "Requests to Sentry in flight now.",
      registers: r,
      collect() {
        this.set(stats.inFlight);
      },
    });
    new client.Gauge({
      name: "cyclops_keys",
      help: "Project keys in the registry.",
      registers: r,
      collect() {
        this.set(keys.status().size);
      },
    });
    new client.Gauge({
      name: "cyclops_keys_age_seconds",
      help: "Seconds since the project keys were last loaded successfully (-1 before the first load).",
      registers: r,
      collect() {
        const at = keys.status().loadedAt;
        this.set(at === null ? -1 : (now() - at) / 1000);
      },
    });
    new client.Counter({
      name: "cyclops_keys_refresh_failures_total",
      help: "Failed refreshes of the project keys.",
      registers: r,
      collect() {
        this.reset();
        this.inc(keys.status().failures);
      },
    });
    this.upstreamLatency = new client.Histogram({
      name: "cyclops_upstream_latency_seconds",
      help: "Response time of Sentry to forwarded items.",
      buckets: LATENCY_BUCKETS,
      registers: r,
    });
  }

  /** Called by the forwarder for every upstream answer (in milliseconds). */
  observeUpstream(ms: number): void {
    this.upstreamLatency.observe(ms / 1000);
  }

  contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** What the operator routes (app.ts) and the ingest routes are handed: built by the gateway (src/gateway/), or by tests. */
import type { Admission } from "../admission/admission.ts";
import type { Config } from "../config/schema.ts";
import type { KeyRegistry } from "../keys/registry.ts";
import type { LatencySummary } from "../stats/count-document.ts";
import type { Stats } from "../stats/counters.ts";
import type { Metrics } from "../stats/metrics.ts";
import type { SpikeProtection } from "../spike/service.ts";
import type { Queue } from "../storage/queue.ts";
import type { CounterStore } from "../throttle/counter-store.ts";
import type { IngestDeps } from "./ingest.ts";

export interface Deps extends IngestDeps {
  config: Config;
  keys: KeyRegistry;
  queue: Queue;
  counters: CounterStore;
  stats: Stats;
  admission: Admission;
  metrics: Metrics;
  /** Spike protection, for /count's episodes; absent when off for every project. */
  spikeProtection?: SpikeProtection;
  /** Upstream response times for /count. */
  latency?: () => LatencySummary;
  onInternalError?: (e: unknown) => void;
  /** Mounts /status among the operator routes (src/gateway/watch.ts). */
  mountStatus?: (app: import("hono").Hono) => void;
}

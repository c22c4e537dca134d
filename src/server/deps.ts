/** What the routes and the ingest pipeline are handed: built once by `serve`, or by tests. */
import type { Config } from "../config/schema.ts";
import type { KeyRegistry } from "../keys/registry.ts";
import type { Logger } from "../log.ts";
import type { LatencySummary } from "../stats/report.ts";
import type { Stats } from "../stats/counters.ts";
import type { Metrics } from "../stats/metrics.ts";
import type { Queue } from "../storage/queue.ts";
import type { CounterStore } from "../throttle/counter-store.ts";

export interface Deps {
  config: Config;
  keys: KeyRegistry;
  queue: Queue;
  counters: CounterStore;
  /**
   * Counts a report's flood key and queues it in one step, when the queue's storage holds the
   * counters too (RedisQueue.pushCounted, for Redis storage with Redis counters); returns the
   * count, and queues only within `flood.maxUses`. Absent: `counters` then `queue`.
   */
  pushCounted?: NonNullable<Queue["pushCounted"]>;
  stats: Stats;
  log: Logger;
  metrics?: Metrics;
  /** Sentry's active rate limit for a project and category, passed back to SDKs (null: none). */
  rateLimits?: (projectId: number, category: string) => { retryAfter: number; header: string } | null;
  /** Upstream response times for /count. */
  latency?: () => LatencySummary;
  /** Wakes the forwarder when something was queued. */
  onQueued?: () => void;
  onStorageError?: (e: Error) => void;
  onInternalError?: (e: unknown) => void;
  /**
   * Each report dropped for a project (flood, sampled, rate_limited, queue_full), with its parsed
   * error event if any: feeds drop episodes, alerts and the status page (src/gateway/watch.ts).
   * Called on the ingest path: must be synchronous and cheap.
   */
  onDrop?: (projectId: number, reason: string, category: string, event: Record<string, unknown> | null) => void;
  /** Mounts /status among the operator routes. */
  mountStatus?: (app: import("hono").Hono) => void;
  /** Extra /healthcheck problems (e.g. upstream state is not one: Sentry down is no reason to stop accepting). */
  problems?: () => string[];
}

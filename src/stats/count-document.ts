/**
 * The /count document, with the original's fields and meanings (count, average, percentile,
 * processed, ignored) plus what the original lacked, and the summing of many instances' documents
 * for `cyclops count`. Sums weight averages by the number of requests behind them.
 */
import type { KeyRegistry } from "../keys/registry.ts";
import type { CountField } from "../outcome/outcomes.ts";
import type { Stats } from "./counters.ts";

export interface LatencySummary {
  /** Mean upstream response time in ms over the window; null before the first answer. */
  average: number | null;
  /** True 90th percentile in ms (the original reported the mean of the fastest 90%). */
  percentile: number | null;
  /** How many response times the figures are taken over. */
  samples: number;
}

/** /count: the outcome list's count fields (processed, ignored, delivered, …) and the queue, latency and keys. */
export interface CountDocument extends Record<CountField, number> {
  count: number;
  average: number | null;
  percentile: number | null;
  samples: number;
  keys: { size: number; age_seconds: number | null; last_error: string | null };
}

export function countDocument(stats: Stats, queueItems: number, latency: LatencySummary, keys: KeyRegistry, now = Date.now()): CountDocument {
  const status = keys.status();
  return {
    count: queueItems,
    average: latency.average,
    percentile: latency.percentile,
    processed: stats.countField("processed"),
    ignored: stats.countField("ignored"),
    delivered: stats.countField("delivered"),
    retried: stats.countField("retried"),
    rejected: stats.countField("rejected"),
    expired: stats.countField("expired"),
    samples: latency.samples,
    keys: {
      size: status.size,
      age_seconds: status.loadedAt === null ? null : Math.round((now - status.loadedAt) / 1000),
      last_error: status.lastError,
    },
  };
}

export const NO_LATENCY: LatencySummary = { average: null, percentile: null, samples: 0 };

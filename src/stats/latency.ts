/**
 * Upstream response times over the last N requests (MAX_REQUESTS_TO_AVERAGE): what the original
 * pacing and /count report as `average` and `percentile`.
 *
 * A sliding window, not a since-start histogram: a ring buffer remembers the last N values, and the
 * value falling out of the ring is subtracted from an HDR histogram (the JS implementation accepts
 * negative counts), so a percentile is one histogram walk and recording is O(1) with no allocation.
 * Values are kept as integer microseconds: the running sum stays exact (no float drift over
 * millions of records) and the histogram keeps 3 significant digits of sub-millisecond answers.
 */
import * as hdr from "hdr-histogram-js";
import type { LatencySummary } from "./count-document.ts";

/** One hour in microseconds: longer answers are clamped (UPSTREAM_TIMEOUT is far below). */
const HIGHEST_US = 3_600_000_000;

export class LatencyWindow {
  private readonly ring: Float64Array;
  private next = 0;
  private filled = 0;
  private sumUs = 0;
  private readonly histogram: hdr.Histogram;

  /** `onRecord` also sees every value (the /metrics histogram keeps all of them, not a window). */
  constructor(
    readonly size: number,
    private readonly onRecord?: (ms: number) => void,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`latency window size must be a positive integer, got ${size}`);
    this.ring = new Float64Array(size);
    this.histogram = hdr.build({
      bitBucketSize: 64,
      useWebAssembly: false,
      lowestDiscernibleValue: 1,
      highestTrackableValue: HIGHEST_US,
      numberOfSignificantValueDigits: 3,
    });
  }

  /** Records one response time in milliseconds (negative or non-finite values are ignored). */
  record(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) return;
    this.onRecord?.(ms);
    const us = Math.min(HIGHEST_US, Math.max(1, Math.round(ms * 1000)));
    if (this.filled === this.size) {
      const old = this.ring[this.next]!;
      this.histogram.recordValueWithCount(old, -1);
      this.sumUs -= old;
    } else {
      this.filled++;
    }
    this.ring[this.next] = us;
    this.next = this.next + 1 === this.size ? 0 : this.next + 1;
    this.histogram.recordValue(us);
    this.sumUs += us;
  }

  /** Values currently in the window. */
  get count(): number {
    return this.filled;
  }

  /** Exact mean of the window in ms; null before the first value. */
  average(): number | null {
    return this.filled === 0 ? null : this.sumUs / this.filled / 1000;
  }

  /** The p-th percentile (0–100) of the window in ms (HDR precision, 3 digits); null when empty. */
  percentile(p: number): number | null {
    if (this.filled === 0) return null;
    return this.histogram.getValueAtPercentile(p) / 1000;
  }

  /** What /count reports: mean, true p90, and how many answers they cover. */
  summary(): LatencySummary {
    return { average: this.average(), percentile: this.percentile(90), samples: this.filled };
  }
}

/**
 * How fast cyclops sends to Sentry. Pure: every method takes `now` (ms), so tests drive a fake clock.
 *
 * original (PACING "original"): the original cyclops's idea, with its bugs fixed.
 *   One request in flight; a new one starts no sooner than `interval` after the previous start,
 *   where interval = p90 of the last MAX_REQUESTS_TO_AVERAGE response times (a true percentile,
 *   where the original averaged the fastest 90 %), capped at MAX_DUMP_INTERVAL ms (which the
 *   original computed and never applied). A slow Sentry thus gets at most one request per
 *   response time, and a fast one is never held back more than MAX_DUMP_INTERVAL.
 *
 * adaptive (PACING "adaptive", the default since issue 17: one request at a time delivered ~750
 *   reports/s to a Sentry that answers at once, far below what cyclops ingests): several
 *   requests in flight under a concurrency limit that follows
 *   Sentry's latency, after TCP Vegas and Netflix concurrency-limits' Gradient2:
 *   - the "no-load" baseline is the lowest response time of the last 10 to 20 seconds (Vegas's
 *     BaseRTT, windowed as BBR's min_rtt) among answers that came back with at most two requests
 *     in flight; while none does, the last such baseline stays. The limit starts at 1, so the
 *     first answers are one. A baseline from loaded answers creeps up with the load it should
 *     measure: windowed over all answers, against a Sentry whose latency grows with requests in
 *     flight, it rose by 1.4× every window and let the limit reach MAX_CONCURRENCY at 3.8× the
 *     idle latency within a minute (test/forward/limiter.test.ts); a moving average (Gradient2's
 *     long window) did the same at 4× (bench/). A Sentry that became slower for good drives the
 *     limit down to where answers come back alone, and is re-learned from them;
 *   - the current latency is a short exponential moving average (last ~10 answers);
 *   - on each answer, gradient = clamp((TOLERANCE × baseline + SLACK_MS) / short, 0.5, 1): 1 while
 *     latency stays within TOLERANCE (1.4×) of the baseline, smaller as queueing inside Sentry
 *     inflates it. SLACK_MS (3 ms) is jitter of the path, not queueing at Sentry: against a Sentry
 *     that answers in 0.3 ms, a 1 ms scheduling hiccup of a shared core read as 3× the baseline
 *     and held the limit at 1 (issue 17); Sentry's own answers take tens of ms;
 *   - the current latency has the event loop's recent lag (loop-lag.ts) taken out, so ingest
 *     keeping the loop busy is not read as Sentry slowing down; the baseline is taken from times
 *     as measured (see `completed`);
 *   - within tolerance the limit grows by two requests per round trip (2 / limit per answer, as
 *     Vegas's additive increase); past it, it moves half way to limit × gradient, at most once
 *     per round trip (the short average), so a burst of answers that one hiccup delayed together
 *     counts once (moving per answer, 30 late answers took it from 32 to 1, issue 17). Growing
 *     only while latency is within tolerance keeps Sentry near 1.4× its idle latency; Gradient2's
 *     always-on √limit headroom settled near 2× and overshot at start (bench/);
 *   - it only grows while it is being used (in flight ≥ limit / 2), so an idle period cannot
 *     inflate it;
 *   - an error (5xx, network failure, timeout) multiplies it by 0.9 (AIMD-style backoff), also at
 *     most once per round trip: a run of failures still takes it to 1 within a few round trips;
 *   - bounded by [1, MAX_CONCURRENCY]; starts at 1 and grows by 2 per round trip.
 *
 * Outages are not the pacer's business: Backoff (below) spaces probes while Sentry is down, so
 * fast failures (connection refused in 0 ms) can never speed the pace up.
 */
import type { LatencyWindow } from "../stats/latency.ts";

export interface Completion {
  latencyMs: number;
  /** false for 5xx, network errors and timeouts (Sentry struggling); 2xx/4xx/429 are answers. */
  ok: boolean;
  /** Requests in flight when this one completed (itself included). */
  inFlight: number;
  /**
   * How late this process's event loop ran lately (loop-lag.ts): time the answer may have waited
   * for the loop, which the adaptive pacer takes out of `latencyMs` as not Sentry's.
   */
  loopLagMs?: number;
}

export interface Pacer {
  /** Most requests allowed in flight now. */
  readonly limit: number;
  /** Milliseconds to wait before another request may start (0 = now), given `inFlight` running. */
  delay(now: number, inFlight: number): number;
  started(now: number): void;
  completed(now: number, c: Completion): void;
}

/** The original's pacing: one at a time, spaced by the windowed p90, at most `maxIntervalMs`. */
export class OriginalPacer implements Pacer {
  readonly limit = 1;
  private lastStart = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly latency: LatencyWindow,
    private readonly maxIntervalMs: number,
  ) {}

  /** Current spacing between request starts, in ms. */
  interval(): number {
    const p90 = this.latency.percentile(90);
    return p90 === null ? 0 : Math.min(p90, this.maxIntervalMs);
  }

  delay(now: number, inFlight: number): number {
    if (inFlight >= 1) return Number.POSITIVE_INFINITY;
    return Math.max(0, this.lastStart + this.interval() - now);
  }

  started(now: number): void {
    this.lastStart = now;
  }

  completed(): void {
    // The forwarder records response times in the shared LatencyWindow; nothing else to keep.
  }
}

const TOLERANCE = 1.4;
/** Latency within this many ms over TOLERANCE × baseline still counts as flat (see the top comment). */
const SLACK_MS = 3;
/** Additive increase while latency is within tolerance: requests added per round trip. */
const GROWTH_PER_ROUND_TRIP = 2;
/** Past tolerance, the share of the way to limit × gradient moved per round trip. */
const DECREASE_SHARE = 0.5;
const SHORT_WINDOW = 10;
/** The baseline is the minimum over the current and the previous window of this length. */
const BASELINE_WINDOW_MS = 10_000;
/** Answers that came back with at most this many in flight measure Sentry unloaded. */
const UNLOADED_IN_FLIGHT = 2;
const ERROR_BACKOFF = 0.9;

class Ema {
  value = 0;
  private n = 0;
  constructor(private readonly window: number) {}
  add(x: number): number {
    // Plain mean until the window fills, so the first samples are not biased towards 0.
    this.n = Math.min(this.n + 1, this.window);
    this.value += (x - this.value) / this.n;
    return this.value;
  }
}

/** Gradient2-like concurrency limiter (see the top comment). */
export class AdaptivePacer implements Pacer {
  private current: number;
  private readonly short = new Ema(SHORT_WINDOW);
  /** Lowest unloaded response time of the current and of the previous baseline window. */
  private windowMin = Number.POSITIVE_INFINITY;
  private previousMin = Number.POSITIVE_INFINITY;
  private windowStart = Number.NEGATIVE_INFINITY;
  /** The baseline last measured, kept while no unloaded answer comes. */
  private baseline = Number.POSITIVE_INFINITY;
  /** Lowest response time of any kind, until the first unloaded one (a limiter started above 2). */
  private anyMin = Number.POSITIVE_INFINITY;
  private lastDecrease = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly maxConcurrency: number,
    initial = 1,
  ) {
    this.current = Math.max(1, Math.min(initial, maxConcurrency));
  }

  get limit(): number {
    return Math.max(1, Math.floor(this.current));
  }

  delay(_now: number, inFlight: number): number {
    return inFlight < this.limit ? 0 : Number.POSITIVE_INFINITY;
  }

  started(): void {}

  completed(now: number, c: Completion): void {
    if (!c.ok) {
      this.decrease(now, ERROR_BACKOFF);
      return;
    }
    // The lag is an upper bound of what the loop added: the short average takes it out, but the
    // baseline uses the time as measured, or one over-corrected answer (a lag measured while the
    // answer was not waiting) would set it near 0 and hold the limit down for good.
    const measured = Math.max(0.001, c.latencyMs);
    const rtt = Math.max(0.001, measured - (c.loopLagMs ?? 0));
    const short = this.short.add(rtt);
    if (now - this.windowStart >= BASELINE_WINDOW_MS) {
      this.previousMin = this.windowMin;
      this.windowMin = Number.POSITIVE_INFINITY;
      this.windowStart = now;
    }
    if (c.inFlight <= UNLOADED_IN_FLIGHT) this.windowMin = Math.min(this.windowMin, measured);
    this.anyMin = Math.min(this.anyMin, measured);
    const unloaded = Math.min(this.windowMin, this.previousMin);
    if (unloaded !== Number.POSITIVE_INFINITY) this.baseline = unloaded;
    const baseline = this.baseline !== Number.POSITIVE_INFINITY ? this.baseline : this.anyMin;
    // App-limited: the limit was not the bottleneck, so this sample says nothing about growing it.
    if (c.inFlight < this.current / 2) return;
    const gradient = Math.max(0.5, Math.min(1, (TOLERANCE * baseline + SLACK_MS) / short));
    if (gradient >= 1) this.current = Math.min(this.maxConcurrency, this.current + GROWTH_PER_ROUND_TRIP / this.current);
    else this.decrease(now, 1 - DECREASE_SHARE * (1 - gradient));
  }

  /**
   * At most one decrease per round trip (the short average): the answers of one window carry the
   * same news, so a hiccup that delayed or failed all of them together counts once, as TCP
   * reduces its window once per loss event.
   */
  private decrease(now: number, factor: number): void {
    if (now - this.lastDecrease < this.short.value) return;
    this.lastDecrease = now;
    this.current = Math.max(1, this.current * factor);
  }
}

export function createPacer(mode: "original" | "adaptive", latency: LatencyWindow, maxIntervalMs: number, maxConcurrency: number): Pacer {
  return mode === "adaptive" ? new AdaptivePacer(maxConcurrency) : new OriginalPacer(latency, maxIntervalMs);
}

/**
 * Exponential backoff with jitter for outages (Sentry not reachable, 5xx): 1 s, 2 s, 4 s … up to
 * 60 s (Relay's http.retry_delay / max_retry_interval), each multiplied by a random 0.5–1 factor
 * so a farm of cyclops instances does not probe in lockstep.
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly baseMs = 1000,
    private readonly maxMs = 60_000,
    private readonly random: () => number = Math.random,
  ) {}

  get attempts(): number {
    return this.failures;
  }

  /** Records a failure and returns how long to wait before the next probe. */
  fail(): number {
    this.failures++;
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures - 1, 30));
    return ceiling * (0.5 + 0.5 * this.random());
  }

  reset(): void {
    this.failures = 0;
  }
}

export type UpstreamState = "up" | "down" | "unknown";

/**
 * Whether Sentry is reachable, from the outcomes of requests: down after a failure to reach it,
 * up again after any answer. While down, requests wait for the backoff to pass and one probe
 * goes at a time.
 */
export class Outage {
  state: UpstreamState = "unknown";
  private until = 0;

  constructor(private readonly backoff: Backoff) {}

  /** Milliseconds to wait before the next request (0 = go). */
  waitMs(now: number): number {
    return this.state === "down" ? Math.max(0, this.until - now) : 0;
  }

  /** An answer came back. Returns true when this ends an outage. */
  up(): boolean {
    const recovered = this.state === "down";
    this.state = "up";
    this.backoff.reset();
    return recovered;
  }

  /**
   * A request failed to reach Sentry. Returns the backoff started, with `first` for the failure
   * that began the outage, or null when a backoff is already running (requests in flight when
   * the outage began fail too: one step per probe, not per request).
   */
  down(now: number): { first: boolean; waitMs: number; attempt: number } | null {
    if (this.state === "down" && now < this.until) return null;
    const first = this.state !== "down";
    const waitMs = this.backoff.fail();
    this.until = now + waitMs;
    this.state = "down";
    return { first, waitMs, attempt: this.backoff.attempts };
  }
}

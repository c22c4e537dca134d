import { describe, expect, test } from "bun:test";
import { AdaptivePacer, Backoff, OriginalPacer, Outage, createPacer } from "../../src/forward/pacer.ts";
import { LatencyWindow } from "../../src/stats/latency.ts";

describe("LatencyWindow", () => {
  test("null before the first value; exact mean and p90 after", () => {
    const w = new LatencyWindow(100);
    expect(w.average()).toBeNull();
    expect(w.percentile(90)).toBeNull();
    expect(w.summary()).toEqual({ average: null, percentile: null, samples: 0 });
    for (let i = 1; i <= 100; i++) w.record(i);
    expect(w.average()).toBe(50.5);
    expect(w.percentile(90)).toBeCloseTo(90, 1);
    expect(w.summary().samples).toBe(100);
  });

  test("slides: only the last N values count", () => {
    const w = new LatencyWindow(10);
    for (let i = 0; i < 10; i++) w.record(1000);
    expect(w.percentile(90)).toBeCloseTo(1000, 0);
    for (let i = 0; i < 10; i++) w.record(2);
    expect(w.count).toBe(10);
    expect(w.average()).toBe(2);
    expect(w.percentile(90)).toBeCloseTo(2, 2);
    expect(w.percentile(100)).toBeCloseTo(2, 2);
  });

  test("keeps sub-millisecond precision and ignores invalid values", () => {
    const w = new LatencyWindow(5);
    w.record(0.25);
    w.record(Number.NaN);
    w.record(-3);
    expect(w.count).toBe(1);
    expect(w.average()).toBe(0.25);
    expect(w.percentile(90)).toBeCloseTo(0.25, 3);
  });
});

describe("original pacing", () => {
  test("no spacing before the first answer; then p90 from the previous start; one in flight", () => {
    const w = new LatencyWindow(50);
    const p = new OriginalPacer(w, 1000);
    expect(p.limit).toBe(1);
    expect(p.delay(0, 0)).toBe(0);
    p.started(0);
    expect(p.delay(5, 1)).toBe(Number.POSITIVE_INFINITY);
    for (let i = 1; i <= 10; i++) w.record(i * 10); // p90 = 90 ms
    expect(p.interval()).toBeCloseTo(90, 0);
    expect(p.delay(40, 0)).toBeCloseTo(50, 0);
    expect(p.delay(90, 0)).toBeCloseTo(0, 0);
    expect(p.delay(500, 0)).toBe(0);
  });

  test("MAX_DUMP_INTERVAL caps the spacing", () => {
    const w = new LatencyWindow(50);
    for (let i = 0; i < 20; i++) w.record(9000); // Sentry answering in 9 s
    const p = new OriginalPacer(w, 250);
    p.started(1_000);
    expect(p.interval()).toBe(250);
    expect(p.delay(1_000, 0)).toBe(250);
    expect(p.delay(1_250, 0)).toBe(0);
  });

  test("createPacer picks the mode", () => {
    const w = new LatencyWindow(5);
    expect(createPacer("original", w, 100, 8)).toBeInstanceOf(OriginalPacer);
    expect(createPacer("adaptive", w, 100, 8)).toBeInstanceOf(AdaptivePacer);
  });
});

describe("adaptive pacing", () => {
  /** Runs `n` answers at `latencyMs` with the limiter fully used. */
  const feed = (p: AdaptivePacer, n: number, latencyMs: number, ok = true) => {
    for (let i = 0; i < n; i++) p.completed(i, { latencyMs, ok, inFlight: p.limit });
  };

  test("grows while latency stays flat, up to MAX_CONCURRENCY", () => {
    const p = new AdaptivePacer(32);
    const start = p.limit;
    feed(p, 20, 50);
    expect(p.limit).toBeGreaterThan(start);
    feed(p, 500, 50);
    expect(p.limit).toBe(32);
    expect(p.delay(0, 31)).toBe(0);
    expect(p.delay(0, 32)).toBe(Number.POSITIVE_INFINITY);
  });

  test("shrinks when latency rises", () => {
    const p = new AdaptivePacer(32);
    feed(p, 300, 20);
    const before = p.limit;
    feed(p, 30, 200);
    expect(p.limit).toBeLessThan(before);
    expect(p.limit).toBeGreaterThanOrEqual(1);
  });

  test("tolerates latency within 1.4x of the baseline", () => {
    const p = new AdaptivePacer(64, 16);
    feed(p, 300, 20);
    const before = p.limit;
    feed(p, 50, 28);
    expect(p.limit).toBeGreaterThanOrEqual(before);
  });

  test("shrinks on errors, never below 1", () => {
    const p = new AdaptivePacer(32, 20);
    feed(p, 5, 10, false);
    expect(p.limit).toBeLessThan(20);
    feed(p, 200, 10, false);
    expect(p.limit).toBe(1);
  });

  test("does not grow while it is not used (app-limited)", () => {
    const p = new AdaptivePacer(32, 8);
    for (let i = 0; i < 200; i++) p.completed(i, { latencyMs: 10, ok: true, inFlight: 1 });
    expect(p.limit).toBe(8);
  });
});

describe("outage backoff", () => {
  test("doubles from the base to the ceiling, with jitter in [0.5, 1]", () => {
    const b = new Backoff(1000, 60_000, () => 1);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(() => b.fail())).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    b.reset();
    expect(b.attempts).toBe(0);
    const low = new Backoff(1000, 60_000, () => 0);
    expect(low.fail()).toBe(500);
  });
});

describe("outage state", () => {
  test("down on a failure, one backoff step per probe, up on any answer", () => {
    const o = new Outage(new Backoff(1000, 60_000, () => 1));
    expect(o.state).toBe("unknown");
    expect(o.waitMs(0)).toBe(0);
    expect(o.down(0)).toEqual({ first: true, waitMs: 1000, attempt: 1 });
    expect(o.down(10)).toBeNull(); // another request that was in flight: same step
    expect(o.waitMs(400)).toBe(600);
    expect(o.down(1000)).toEqual({ first: false, waitMs: 2000, attempt: 2 });
    expect(o.state).toBe("down");
    expect(o.up()).toBe(true);
    expect(o.up()).toBe(false);
    expect(o.waitMs(1001)).toBe(0);
    expect(o.down(5000)).toEqual({ first: true, waitMs: 1000, attempt: 1 });
  });
});

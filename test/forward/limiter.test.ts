/**
 * The adaptive limiter (pacer.ts) as a pure function of its answers, on an injected clock: every
 * scenario runs in round trips, each bringing back `limit` answers (the window fully used) and
 * advancing the clock by the round trip's latency. No real time is involved.
 */
import { describe, expect, test } from "bun:test";
import { AdaptivePacer } from "../../src/forward/pacer.ts";

const MAX = 32;

interface Answer {
  /** What Sentry itself took, ms. */
  sentryMs: number;
  /** How long the answer then waited for the busy event loop, ms (measured by loop-lag.ts). */
  lagMs?: number;
  ok?: boolean;
  /** Whether the forwarder passes the measured lag on (it does; false shows why it must). */
  lagKnown?: boolean;
}

class Clock {
  now = 0;
}

/** Runs `rounds` round trips; `answer(i, limit, now)` says how the i-th answer of a round went. Returns the limit after each round. */
function run(p: AdaptivePacer, clock: Clock, rounds: number, answer: (i: number, limit: number, now: number) => Answer): number[] {
  const limits: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const n = p.limit;
    let longest = 0;
    for (let i = 0; i < n; i++) {
      const a = answer(i, n, clock.now);
      const lag = a.lagMs ?? 0;
      const measured = a.sentryMs + lag;
      longest = Math.max(longest, measured);
      p.completed(clock.now + measured, { latencyMs: measured, loopLagMs: a.lagKnown === false ? 0 : lag, ok: a.ok ?? true, inFlight: n });
    }
    clock.now += Math.max(longest, 0.1);
    limits.push(p.limit);
  }
  return limits;
}

/** A deterministic pseudo-random sequence in [0, 1). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("adaptive limiter (injected clock)", () => {
  test("opens to MAX_CONCURRENCY on flat latency while a busy event loop delays every answer", () => {
    // Sentry answers in 0.5 ms. First the loop is idle; then ingest keeps it busy, so every answer
    // waits 0-15 ms for it, as the loop's measured lag says.
    const idle = () => ({ sentryMs: 0.5 });
    const rand = prng(1);
    const busy = () => ({ sentryMs: 0.5, lagMs: 15 * rand() });
    const p = new AdaptivePacer(MAX);
    const clock = new Clock();
    run(p, clock, 20, idle);
    const limits = run(p, clock, 300, busy);
    expect(limits.at(-1)).toBe(MAX);
    // And it stays open: no round of the last hundred fell below 3/4 of the maximum.
    expect(Math.min(...limits.slice(-100))).toBeGreaterThanOrEqual(MAX * 0.75);

    // The same answers with the loop's lag read as Sentry's latency hold it far below: what kept
    // issue 17's forwarder near one request in flight.
    const rand2 = prng(1);
    const blind = new AdaptivePacer(MAX);
    const blindClock = new Clock();
    run(blind, blindClock, 20, idle);
    const blindLimits = run(blind, blindClock, 300, () => ({ sentryMs: 0.5, lagMs: 15 * rand2(), lagKnown: false }));
    expect(Math.max(...blindLimits.slice(-100))).toBeLessThan(MAX / 2);
  });

  test("closes on rising latency: a Sentry slowing with load is held near its idle latency", () => {
    // The bench's slowing Sentry: 30 ms + 3 ms per request in flight; idle (one at a time) 33 ms.
    const p = new AdaptivePacer(MAX);
    const clock = new Clock();
    // 1,500 round trips are over a minute: several baseline windows, where a baseline taken
    // from loaded answers crept up and opened the limit to the maximum.
    const limits = run(p, clock, 1500, (_i, limit) => ({ sentryMs: 30 + 3 * limit }));
    expect(clock.now).toBeGreaterThan(60_000);
    const settled = limits.slice(-1400);
    // Opened beyond one at a time, yet Sentry's latency stays within 2x its idle 33 ms.
    expect(Math.min(...settled)).toBeGreaterThanOrEqual(3);
    for (const limit of settled) expect(30 + 3 * limit).toBeLessThanOrEqual(2 * 33);
  });

  test("closes when Sentry becomes slow, and opens again within seconds once it is fast again", () => {
    const p = new AdaptivePacer(MAX);
    const clock = new Clock();
    run(p, clock, 200, () => ({ sentryMs: 5 }));
    expect(p.limit).toBe(MAX);
    const slowFrom = clock.now;
    run(p, clock, 60, () => ({ sentryMs: 100 }));
    expect(p.limit).toBeLessThanOrEqual(4);
    expect(clock.now - slowFrom).toBeLessThan(10_000); // still within the baseline's window: 5 ms is the baseline
    const fastFrom = clock.now;
    const limits = run(p, clock, 400, () => ({ sentryMs: 5 }));
    const reopenedAfter = limits.findIndex((l) => l === MAX);
    expect(reopenedAfter).toBeGreaterThanOrEqual(0);
    // Round trips of 5 ms: reopened within the first 2 s (400 rounds is 2 s of simulated time).
    expect(clock.now - fastFrom).toBeLessThanOrEqual(2_000);
  });

  test("closes on errors and recovers after an outage", () => {
    const p = new AdaptivePacer(MAX);
    const clock = new Clock();
    run(p, clock, 200, () => ({ sentryMs: 10 }));
    expect(p.limit).toBe(MAX);
    // An outage: every request fails (5xx, resets, timeouts).
    run(p, clock, 40, () => ({ sentryMs: 10, ok: false }));
    expect(p.limit).toBe(1);
    const back = clock.now;
    const limits = run(p, clock, 200, () => ({ sentryMs: 10 }));
    const rounds = limits.findIndex((l) => l === MAX);
    expect(rounds).toBeGreaterThan(0);
    // 10 ms round trips: back at the maximum after `rounds` of them, well within seconds.
    expect(rounds * 10).toBeLessThan(3_000);
    expect(clock.now - back).toBeGreaterThan(0);
  });

  test("429s are answers: a rate-limited Sentry does not move the limit", () => {
    const p = new AdaptivePacer(MAX);
    const clock = new Clock();
    run(p, clock, 200, () => ({ sentryMs: 8 }));
    // Sentry answering 429 to every request as fast as before (the forwarder passes ok: true).
    const limits = run(p, clock, 200, () => ({ sentryMs: 8, ok: true }));
    expect(Math.min(...limits)).toBe(MAX);
  });

  test("occasional 5xx and connection resets do not make it oscillate or stall", () => {
    const rand = prng(7);
    const p = new AdaptivePacer(MAX);
    const clock = new Clock();
    run(p, clock, 200, () => ({ sentryMs: 8 }));
    // One answer in 50 fails (a 5xx or a reset: ok false, reset at 0 ms, 5xx at Sentry's speed).
    const limits = run(p, clock, 500, () => (rand() < 0.02 ? { sentryMs: rand() < 0.5 ? 0 : 8, ok: false } : { sentryMs: 8 }));
    expect(Math.min(...limits)).toBeGreaterThanOrEqual(MAX * 0.7);
    // No sawtooth: the limit moves by less than 20 % of the maximum from one round trip to the next.
    for (let i = 1; i < limits.length; i++) expect(Math.abs(limits[i]! - limits[i - 1]!)).toBeLessThanOrEqual(MAX * 0.2);
  });

  test("one hiccup delaying a whole window of answers moves the limit once, not once per answer", () => {
    const p = new AdaptivePacer(MAX);
    const clock = new Clock();
    run(p, clock, 200, () => ({ sentryMs: 1 }));
    expect(p.limit).toBe(MAX);
    // One round trip where every answer is 20 ms late for a reason the loop lag did not see.
    run(p, clock, 1, () => ({ sentryMs: 21 }));
    expect(p.limit).toBeGreaterThanOrEqual(MAX * 0.7);
  });
});

import { describe, expect, test } from "bun:test";
import { LoopLag } from "../../src/forward/loop-lag.ts";
import { SharedDeadlines } from "../../src/forward/timeouts.ts";

describe("LoopLag", () => {
  test("reads how late its ticks ran, the larger of the last two (injected clock)", () => {
    let t = 0;
    const lag = new LoopLag(10, () => t);
    lag.tick(); // on time: expects the next at 10
    expect(lag.ms).toBe(0);
    t = 25; // 15 ms late
    lag.tick();
    expect(lag.ms).toBe(15);
    t = 35; // on time again; the previous tick's lateness still counts
    lag.tick();
    expect(lag.ms).toBe(15);
    t = 45;
    lag.tick();
    expect(lag.ms).toBe(0);
  });

  test("a loop blocked right now reads as lagging before its timer gets to run", async () => {
    const lag = new LoopLag(5);
    lag.start();
    try {
      await Bun.sleep(20);
      const end = performance.now() + 60;
      while (performance.now() < end) {}
      // The timer is overdue by at least 60 − 5 ms; answers handled now must see that.
      expect(lag.ms).toBeGreaterThanOrEqual(50);
    } finally {
      lag.stop();
    }
  });
});

describe("SharedDeadlines", () => {
  test("requests starting within one slot share a signal; the next slot gets its own", () => {
    let t = 0;
    const d = new SharedDeadlines(10_000, () => t);
    const a = d.acquire();
    t = 500;
    const b = d.acquire();
    expect(b.signal).toBe(a.signal);
    t = 1000; // a tenth of the timeout, capped at 1 s, later
    const c = d.acquire();
    expect(c.signal).not.toBe(a.signal);
    expect(d.pending).toBe(3);
    for (const s of [a, b, c]) d.release(s);
    expect(d.pending).toBe(0);
  });

  test("a slot's deadline aborts it as a timeout only if a request is still pending", async () => {
    const d = new SharedDeadlines(20);
    const done = d.acquire();
    d.release(done);
    const slow = d.acquire();
    await Bun.sleep(60);
    expect(slow.signal.aborted).toBe(true);
    expect(slow.timedOut).toBe(true);
    expect((slow.signal.reason as Error).name).toBe("TimeoutError");
    d.release(slow);

    // Every request of the next slot settled in time: its deadline passes without an abort.
    const quick = d.acquire();
    d.release(quick);
    await Bun.sleep(60);
    expect(quick.signal.aborted).toBe(false);
  });

  test("abortAll (stop) aborts every live slot, not as a timeout", () => {
    let t = 0;
    const d = new SharedDeadlines(10_000, () => t);
    const a = d.acquire();
    t = 2000;
    const b = d.acquire();
    d.abortAll(new Error("stopping"));
    expect(a.signal.aborted && b.signal.aborted).toBe(true);
    expect(a.timedOut || b.timedOut).toBe(false);
  });
});

import { describe, expect, test } from "bun:test";
import { MemoryCounterStore } from "../../src/throttle/memory.ts";
import { runCounterStoreContract } from "../contracts/counter-store.contract.ts";

runCounterStoreContract("memory", async () => {
  const store = new MemoryCounterStore();
  return { store, cleanup: () => store.close() };
});

describe("MemoryCounterStore bounds", () => {
  test("increment is synchronous", () => {
    const store = new MemoryCounterStore();
    expect(store.increment("k", 1)).toBe(1);
    expect(store.increment("k", 1)).toBe(2);
  });

  test("ended windows are dropped as time passes, so a flood of distinct keys stays bounded", () => {
    let now = 0;
    const store = new MemoryCounterStore({ now: () => now });
    for (let i = 0; i < 10_000; i++) {
      store.increment(`key-${i}`, 1);
      now += 1; // 1 ms per key: at most ~1000 keys are inside their 1 s window at a time
    }
    // Two generations of one window length: at most the last 2 s of keys.
    expect(store.size).toBeLessThanOrEqual(2_000);
    expect(store.size).toBeGreaterThanOrEqual(1_000);
  });

  test("a window is never lost while it lasts, across generation turns", () => {
    let now = 0;
    const store = new MemoryCounterStore({ now: () => now });
    store.increment("filler-0", 1); // generations start at 0
    now = 999;
    expect(store.increment("edge", 1)).toBe(1); // the last moment of the first generation; ends at 1999
    now = 1_000;
    store.increment("filler-1", 1); // turn: edge is now in the previous generation
    now = 1_998;
    expect(store.increment("edge", 1)).toBe(2);
    now = 1_999;
    expect(store.increment("edge", 1)).toBe(1); // its window ended: a new one
    now = 2_500;
    store.increment("filler-2", 1); // turn again: the new edge window (ends 2999) moves to previous
    now = 2_998;
    expect(store.increment("edge", 1)).toBe(2);
  });

  test("mixed window lengths: short keys are dropped while a long-lived key keeps counting", () => {
    let now = 0;
    const store = new MemoryCounterStore({ now: () => now });
    store.increment("long", 3600);
    for (let i = 0; i < 10_000; i++) {
      store.increment(`short-${i}`, 0.01);
      now += 1;
    }
    expect(store.size).toBeLessThan(100);
    expect(store.increment("long", 3600)).toBe(2);
  });

  test("after an idle spell longer than two windows nothing ended is kept", () => {
    let now = 0;
    const store = new MemoryCounterStore({ now: () => now });
    for (let i = 0; i < 100; i++) store.increment(`k-${i}`, 1);
    now = 2_500;
    expect(store.increment("k-0", 1)).toBe(1);
    expect(store.size).toBe(1);
  });

  test("the hard cap turns the generations early: the oldest keys go, memory stays within 2 × the cap", () => {
    const now = 0;
    const store = new MemoryCounterStore({ maxEntries: 3, now: () => now });
    for (const k of ["a", "b", "c", "d"]) store.increment(k, 60);
    expect(store.size).toBe(4); // a, b, c in the previous generation; d in the current one
    expect(store.increment("d", 60)).toBe(2);
    expect(store.increment("a", 60)).toBe(2);
    for (const k of ["e", "f", "g"]) store.increment(k, 60); // current reaches the cap again: a, b, c dropped
    expect(store.size).toBeLessThanOrEqual(6);
    expect(store.increment("b", 60)).toBe(1); // evicted, so a fresh window
    expect(store.increment("g", 60)).toBe(2);
  });
});

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

  test("expired keys are swept as new keys arrive, so a flood of distinct keys stays bounded", () => {
    let now = 0;
    const store = new MemoryCounterStore({ now: () => now });
    for (let i = 0; i < 10_000; i++) {
      store.increment(`key-${i}`, 1);
      now += 1; // 1 ms per key: at most ~1000 keys are inside their 1 s window at a time
    }
    expect(store.size).toBeLessThan(2_100);
    expect(store.size).toBeGreaterThanOrEqual(1_000);
  });

  test("sweeping copes with mixed window lengths (a long-lived key does not block it)", () => {
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

  test("the hard cap evicts the oldest keys first", () => {
    const now = 0;
    const store = new MemoryCounterStore({ maxEntries: 3, now: () => now });
    for (const k of ["a", "b", "c", "d"]) store.increment(k, 60);
    expect(store.size).toBe(3);
    expect(store.increment("d", 60)).toBe(2);
    expect(store.increment("b", 60)).toBe(2);
    expect(store.increment("a", 60)).toBe(1); // evicted, so a fresh window
  });

  test("a restarted window moves the key to the back of eviction order", () => {
    let now = 0;
    const store = new MemoryCounterStore({ maxEntries: 2, now: () => now });
    store.increment("a", 1);
    store.increment("b", 10);
    now = 2_000; // a's window ended
    expect(store.increment("a", 1)).toBe(1);
    store.increment("c", 10); // over the cap: b is now the oldest
    expect(store.increment("a", 1)).toBe(2);
    expect(store.increment("b", 10)).toBe(1);
  });
});

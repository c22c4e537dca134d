/**
 * The CounterStore contract (src/throttle/counter-store.ts), run against every implementation:
 * test/throttle/{memory,redis}.test.ts each call `runCounterStoreContract`.
 *
 * Windows are real time here (fractional seconds keep the sleeps short); margins of 100 ms or
 * more either side of a window's end keep the checks independent of scheduling jitter.
 */
import { describe, expect, test } from "bun:test";
import type { CounterStore } from "../../src/throttle/counter-store.ts";

export type MakeCounterStore = () => Promise<{ store: CounterStore; cleanup: () => Promise<void> }>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function runCounterStoreContract(name: string, make: MakeCounterStore): void {
  async function withStore(body: (s: CounterStore) => Promise<void>): Promise<void> {
    const { store, cleanup } = await make();
    try {
      await body(store);
    } finally {
      await cleanup();
    }
  }

  describe(`CounterStore contract: ${name}`, () => {
    test("counts 1..n inside one window", () =>
      withStore(async (s) => {
        const got: number[] = [];
        for (let i = 0; i < 12; i++) got.push(await s.increment("k", 60));
        expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      }));

    test("number keys (the pipeline's 53-bit hashes) count like string keys, each apart", () =>
      withStore(async (s) => {
        const big = 2 ** 53 - 1;
        expect(await s.increment(big, 60)).toBe(1);
        expect(await s.increment(big, 60)).toBe(2);
        expect(await s.increment(big - 1, 60)).toBe(1);
        expect(await s.increment(0, 60)).toBe(1);
        expect(await s.increment(big, 60)).toBe(3);
      }));

    test("concurrent increments each get a distinct count", () =>
      withStore(async (s) => {
        const got = await Promise.all(Array.from({ length: 50 }, () => s.increment("c", 60)));
        expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      }));

    test("distinct keys count independently", () =>
      withStore(async (s) => {
        expect(await s.increment("a", 60)).toBe(1);
        expect(await s.increment("a", 60)).toBe(2);
        expect(await s.increment("b", 60)).toBe(1);
        expect(await s.increment("a", 60)).toBe(3);
        expect(await s.increment("b", 60)).toBe(2);
      }));

    test("after the window ends the next increment starts again at 1 (fractional seconds)", () =>
      withStore(async (s) => {
        expect(await s.increment("w", 0.2)).toBe(1);
        expect(await s.increment("w", 0.2)).toBe(2);
        await sleep(350);
        expect(await s.increment("w", 0.2)).toBe(1);
        expect(await s.increment("w", 0.2)).toBe(2);
      }));

    test("the window is fixed from the first increment, not extended by later ones", () =>
      withStore(async (s) => {
        expect(await s.increment("f", 0.5)).toBe(1);
        await sleep(300);
        expect(await s.increment("f", 0.5)).toBe(2);
        await sleep(350); // 650 ms after the first increment: its window ended 150 ms ago
        expect(await s.increment("f", 0.5)).toBe(1);
      }));

    test("a key hammered without pause is never muted forever", () =>
      withStore(async (s) => {
        const started = Date.now();
        let restarted = false;
        let count = 0;
        while (Date.now() - started < 700) {
          count = await s.increment("hot", 0.2);
          if (count === 1 && Date.now() - started > 100) restarted = true;
          await sleep(5);
        }
        expect(restarted).toBe(true);
        expect(count).toBeLessThan(100);
      }));
  });
}

import { describe, expect, test } from "bun:test";
import { GcSchedule } from "../../src/server/gc-schedule.ts";

describe("GcSchedule", () => {
  test("asks for a collection on every n-th request, and only then", () => {
    let collections = 0;
    const schedule = new GcSchedule(3, () => collections++);
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      schedule.tick();
      seen.push(collections);
    }
    expect(seen).toEqual([0, 0, 1, 1, 1, 2, 2, 2, 3, 3]);
  });

  test("every = 1 collects on each request", () => {
    let collections = 0;
    const schedule = new GcSchedule(1, () => collections++);
    for (let i = 0; i < 4; i++) schedule.tick();
    expect(collections).toBe(4);
  });

  test("the default collection is Bun's young-generation one and does not throw", () => {
    const schedule = new GcSchedule(1);
    expect(() => schedule.tick()).not.toThrow();
  });
});

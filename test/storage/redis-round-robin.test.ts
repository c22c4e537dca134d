/** The client side of the Redis queue's farm-wide round-robin and bounds, without Redis. */
import { describe, expect, test } from "bun:test";
import { FarmTotals } from "../../src/storage/redis/farm-totals.ts";
import { interleave, rotate, shares, takeRoundRobin } from "../../src/storage/redis/round-robin.ts";

describe("shares", () => {
  test("as even as possible when every project can get one, the remainder to the first", () => {
    expect(shares([1, 2, 3], 7)).toEqual([
      [1, 3],
      [2, 2],
      [3, 2],
    ]);
    expect(shares([1, 2], 2)).toEqual([
      [1, 1],
      [2, 1],
    ]);
  });
  test("one each to the first `remaining` when there are more projects than items", () => {
    expect(shares([4, 5, 6, 7], 2)).toEqual([
      [4, 1],
      [5, 1],
    ]);
  });
});

test("rotate sorts and starts one project later each turn, wrapping", () => {
  expect(rotate([3, 1, 2], 0)).toEqual([1, 2, 3]);
  expect(rotate([3, 1, 2], 1)).toEqual([2, 3, 1]);
  expect(rotate([3, 1, 2], 5)).toEqual([3, 1, 2]);
  expect(rotate([], 4)).toEqual([]);
});

test("interleave serves one of each list in turn", () => {
  expect(interleave([["a1", "a2", "a3"], ["b1"], ["c1", "c2"]])).toEqual(["a1", "b1", "c1", "a2", "c2", "a3"]);
  expect(interleave([])).toEqual([]);
});

describe("takeRoundRobin", () => {
  /** Projects with this many items each; records every ask. */
  function farm(items: Record<number, number>) {
    const asks: [number, number][] = [];
    const takeFrom = async (p: number, max: number) => {
      asks.push([p, max]);
      const n = Math.min(max, items[p] ?? 0);
      items[p] = (items[p] ?? 0) - n;
      return Array.from({ length: n }, () => p);
    };
    return { asks, takeFrom };
  }

  test("a storm in one project does not starve the others, and what one lacks the others fill", async () => {
    const { takeFrom } = farm({ 1: 100, 2: 1, 3: 2 });
    expect(await takeRoundRobin([1, 2, 3], 9, takeFrom)).toEqual([1, 2, 3, 1, 3, 1, 1, 1, 1]);
  });

  test("projects not asked in a round (more projects than items) are asked in the next", async () => {
    const { asks, takeFrom } = farm({ 1: 0, 2: 0, 3: 5 });
    expect(await takeRoundRobin([1, 2, 3], 2, takeFrom)).toEqual([3, 3]);
    expect(asks).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
    ]);
  });

  test("stops when nobody has more", async () => {
    const { asks, takeFrom } = farm({ 1: 1, 2: 0 });
    expect(await takeRoundRobin([1, 2], 10, takeFrom)).toEqual([1]);
    expect(asks).toEqual([
      [1, 5],
      [2, 5],
    ]);
  });
});

test("FarmTotals: the farm is the sum of the projects as last heard, and a project's room excludes only the others", () => {
  const t = new FarmTotals();
  t.set(1, 3, 300);
  t.set(2, 4, 400);
  expect([t.items, t.bytes]).toEqual([7, 700]);
  expect(t.room(1, 10, 1000)).toEqual([6, 600]);
  expect(t.room(9, 10, 1000)).toEqual([3, 300]);
  t.set(2, 1, 100);
  expect([t.items, t.bytes]).toEqual([4, 400]);
  expect(t.room(1, 10, 1000)).toEqual([9, 900]);
});

import { expect, test } from "bun:test";
import { BodyBudget } from "../../src/admission/body-budget.ts";

test("BodyBudget: takes what fits, refuses the rest (and anything that is not a count), gives back", () => {
  const budget = new BodyBudget(100);
  expect(budget.take(60)).toBe(true);
  expect(budget.take(41)).toBe(false);
  expect(budget.take(Number.NaN)).toBe(false);
  expect(budget.take(-5)).toBe(false);
  expect([budget.bytes, budget.available]).toEqual([60, 40]);
  expect(budget.take(40)).toBe(true);
  budget.give(100);
  expect([budget.bytes, budget.available]).toEqual([0, 100]);
});

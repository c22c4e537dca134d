import { expect, test } from "bun:test";
import { BodyBudget, MAX_TRACKED_CLIENTS, OTHER_CLIENTS } from "../../src/admission/body-budget.ts";

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

test("BodyBudget per client: each address holds at most its share, the others keep the rest; accounts end at 0", () => {
  const budget = new BodyBudget(100, 30);
  const a = budget.account("10.0.0.1");
  const b = budget.account("10.0.0.2");
  expect(budget.take(30, a)).toBe(true);
  expect(budget.take(1, a)).toBe(false);
  expect(budget.roomFor(a)).toBe(0);
  expect(budget.take(30, b)).toBe(true);
  expect([budget.bytes, budget.trackedClients]).toEqual([60, 2]);
  budget.give(30, a);
  expect([budget.bytes, budget.trackedClients, budget.roomFor(a)]).toEqual([30, 1, 30]);
  // The whole budget bounds every share.
  const shared = new BodyBudget(50, 30);
  expect(shared.take(30, "x")).toBe(true);
  expect(shared.roomFor("y")).toBe(20);
});

test("BodyBudget per client: past MAX_TRACKED_CLIENTS addresses the rest share one account, so the map stays bounded", () => {
  const budget = new BodyBudget(1e9, 10);
  for (let i = 0; i < MAX_TRACKED_CLIENTS; i++) expect(budget.take(1, budget.account(`10.0.${i >> 8}.${i & 255}`))).toBe(true);
  expect(budget.trackedClients).toBe(MAX_TRACKED_CLIENTS);
  const late = budget.account("192.0.2.1");
  expect(late).toBe(OTHER_CLIENTS);
  expect(budget.account(null)).toBe(OTHER_CLIENTS);
  expect(budget.take(10, late)).toBe(true);
  expect(budget.take(1, budget.account("192.0.2.2"))).toBe(false);
  expect(budget.trackedClients).toBe(MAX_TRACKED_CLIENTS + 1);
  // A tracked address keeps its own account.
  expect(budget.account("10.0.0.5")).toBe("10.0.0.5");
});

import { expect, test } from "bun:test";
import { MAX_PENDING_DISCARDS, MAX_TRACKED_PROJECTS, Stats } from "../../src/stats/counters.ts";
import { OUTCOMES } from "../../src/outcome/outcomes.ts";

test("per-project counts stop growing at MAX_TRACKED_PROJECTS; tracked projects keep counting", () => {
  const stats = new Stats();
  for (let id = 1; id <= MAX_TRACKED_PROJECTS; id++) stats.project(id).processed++;
  expect(stats.perProject.size).toBe(MAX_TRACKED_PROJECTS);
  expect(stats.untracked).toBe(0);

  // A client cycling through project ids (RESTRICT_API_ACCESS=false) cannot grow the map.
  for (let id = MAX_TRACKED_PROJECTS + 1; id <= MAX_TRACKED_PROJECTS + 500; id++) stats.project(id).processed++;
  expect(stats.perProject.size).toBe(MAX_TRACKED_PROJECTS);
  expect(stats.perProject.has(MAX_TRACKED_PROJECTS + 1)).toBe(false);
  expect(stats.untracked).toBe(500);

  stats.project(7).ignored++;
  stats.project(7).processed++;
  expect(stats.perProject.get(7)).toEqual({ processed: 2, ignored: 1, delivered: 0 });
});

test("pending client-report entries stop growing at MAX_PENDING_DISCARDS; known entries keep adding up", () => {
  const stats = new Stats();
  for (let i = 0; i < MAX_PENDING_DISCARDS; i++) stats.discard(i, "event_processor", "error");
  expect(stats.discarded.size).toBe(MAX_PENDING_DISCARDS);

  stats.discard(MAX_PENDING_DISCARDS + 1, "event_processor", "error");
  stats.discard(3, "sample_rate", "error"); // a new reason for a known project is a new entry too
  expect(stats.discarded.size).toBe(MAX_PENDING_DISCARDS);
  expect(stats.untracked).toBe(2);

  stats.discard(3, "event_processor", "error", 4);
  expect(stats.discarded.get("3|event_processor|error")).toBe(5);

  // Once a client report drains entries, new ones are recorded again.
  stats.discarded.delete("3|event_processor|error");
  stats.discard(MAX_PENDING_DISCARDS + 1, "event_processor", "error");
  expect(stats.discarded.get(`${MAX_PENDING_DISCARDS + 1}|event_processor|error`)).toBe(1);
});

test("record counts each outcome in its project's field: accepted as processed, delivered, flood as ignored", () => {
  const stats = new Stats();
  stats.record(OUTCOMES.accepted, 3, "error");
  stats.record(OUTCOMES.accepted, 3, "error");
  stats.record(OUTCOMES.delivered, 3, null);
  stats.record(OUTCOMES.flood, 3, "error");
  stats.record(OUTCOMES.delivered, 4, null);
  expect(stats.perProject.get(3)).toEqual({ processed: 2, ignored: 1, delivered: 1 });
  expect(stats.perProject.get(4)).toEqual({ processed: 0, ignored: 0, delivered: 1 });
});

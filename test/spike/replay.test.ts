/**
 * Issue 19's replays, on an injected clock: seasonal traffic raises no episode; a 50× step is cut
 * within 10 s to its limit; it ends within 5 minutes of the traffic's return and leaves the limit
 * where it was; shadow counts exactly what enforce drops.
 */
import { describe, expect, test } from "bun:test";
import { SpikeLimiter } from "../../src/spike/limiter.ts";
import { DAY, HOUR, MINUTE, MONDAY, replay, settings, type ProjectTraffic } from "./replay.ts";

const quiet: ProjectTraffic[] = [
  { id: 1, base: 20 },
  { id: 2, base: 5 },
  { id: 3, base: 25, category: "transaction" },
];

describe("seasonal traffic", () => {
  test("7 days (and the week after, on the hour-of-week profile) raise no episode", () => {
    const limiter = new SpikeLimiter(settings());
    const cpu = process.cpuUsage();
    const r = replay(limiter, quiet, MONDAY, MONDAY + 14 * DAY);
    const cpuSeconds = (process.cpuUsage(cpu).user + process.cpuUsage(cpu).system) / 1e6;
    expect(r.events).toEqual([]);
    for (const t of r.tally.values()) expect(t.drop).toBe(0);
    console.log(`14 days, ${[...r.tally.values()].reduce((s, t) => s + t.pass, 0)} reports: ${cpuSeconds.toFixed(2)} s of CPU`);
  });
});

describe("a 50× step on one project", () => {
  const onset = MONDAY + 8 * DAY + 14 * HOUR; // Tuesday of the second week, 14:00
  const end = onset + 30 * MINUTE;
  const traffic: ProjectTraffic[] = [{ ...quiet[0]!, step: { from: onset, to: end, factor: 50 } }, quiet[1]!, quiet[2]!];
  const run = (mode: "enforce" | "shadow") => replay(new SpikeLimiter(settings(mode)), traffic, MONDAY, onset + DAY + HOUR);
  const enforce = run("enforce");
  const shadow = run("shadow");
  const episodes = enforce.events.filter((e) => e.projectId === 1);

  test("is limited within 10 s, one episode, and no other project loses a report", () => {
    const detection = enforce.firstLimited.get(1)! - onset;
    console.log(`first drop ${(detection / 1000).toFixed(1)} s after the onset`);
    expect(detection).toBeLessThanOrEqual(10_000);
    expect(episodes.map((e) => e.kind)).toEqual(["start", "end"]);
    expect(episodes[0]!.startedAt).toBeGreaterThanOrEqual(onset);
    expect(enforce.tally.get(2)!.drop).toBe(0);
    expect(enforce.tally.get(3)!.drop).toBe(0);
    expect(enforce.events.filter((e) => e.projectId !== 1)).toEqual([]);
  });

  test("accepts at most its limit + 2 % over the episode", () => {
    const [start, stop] = episodes as [(typeof episodes)[0], (typeof episodes)[0]];
    const limits = enforce.limits.get(1)!;
    let allowed = 0;
    for (let m = Math.floor(start.startedAt / MINUTE); m * MINUTE < stop.at; m++) {
      const overlap = Math.min(stop.at, (m + 1) * MINUTE) - Math.max(start.startedAt, m * MINUTE);
      allowed += (limits.get(m)! * overlap) / MINUTE;
    }
    expect(stop.accepted).toBeLessThanOrEqual(allowed * 1.02);
    expect(stop.dropped).toBeGreaterThan(stop.accepted * 5);
    console.log(
      `episode ${((stop.at - start.startedAt) / MINUTE).toFixed(1)} min: accepted ${stop.accepted} of ${allowed.toFixed(0)} allowed, dropped ${stop.dropped}, limit ${start.limitPerMinute}/min`,
    );
  });

  test("ends within 5 minutes of the return to normal, and leaves the limit where it was", () => {
    const stop = episodes[1]!;
    console.log(`episode over ${((stop.at - end) / 1000).toFixed(0)} s after the traffic returned`);
    expect(stop.at - end).toBeLessThanOrEqual(5 * MINUTE);
    const limits = enforce.limits.get(1)!;
    const before = limits.get(onset / MINUTE - 1)!;
    const dayLater = limits.get((onset + DAY) / MINUTE - 1)!;
    console.log(`limit before ${before.toFixed(1)}/min, 24 h later ${dayLater.toFixed(1)}/min`);
    expect(dayLater).toBeLessThanOrEqual(before * 1.2);
  });

  test("shadow drops nothing, and would drop exactly what enforce drops", () => {
    for (const t of shadow.tally.values()) expect(t.drop).toBe(0);
    for (const [id, t] of enforce.tally) expect(shadow.tally.get(id)!.wouldDrop).toBe(t.drop);
    expect(shadow.tally.get(1)!.wouldDrop).toBeGreaterThan(0);
    expect(shadow.events.map((e) => [e.kind, e.mode, e.startedAt, e.dropped])).toEqual(enforce.events.map((e) => [e.kind, "shadow", e.startedAt, e.dropped]));
  });
});

/**
 * Cold start (docs/SPIKE-PROTECTION.md, "Cold start"): a project with no history is limited at
 * the floor from its first report, with no learning grace; its first hour learns from everything
 * offered, so legitimate traffic over the floor is cut for about its first minute only. A restart
 * that restores the saved state has no cold start at all.
 */
describe("cold start", () => {
  const busy: ProjectTraffic[] = [{ id: 9, base: 120 }]; // about 540 a minute at noon: 9× the floor
  const noon = MONDAY + 2 * DAY + 12 * HOUR;

  test("a new project over the floor loses part of its first minute, then nothing; a restart with its state loses nothing", () => {
    const fresh = replay(new SpikeLimiter(settings()), busy, noon, noon + DAY);
    const drops = fresh.tally.get(9)!.drop;
    const lastDrop = [...fresh.events].filter((e) => e.kind === "end").map((e) => e.at)[0]!;
    console.log(`new project at ~540/min: ${drops} dropped, the episode over ${((lastDrop - noon) / MINUTE).toFixed(1)} min after its first report; 0 in the rest of the day`);
    expect(drops).toBeGreaterThan(0);
    expect(drops).toBeLessThan(600); // less than its first minute
    expect(fresh.events.filter((e) => e.kind === "start").length).toBe(1);
    expect(lastDrop - noon).toBeLessThan(3 * MINUTE);

    // The same project with two days learned, stopped and restarted with its saved state: no drop.
    const before = new SpikeLimiter(settings());
    replay(before, busy, MONDAY, noon);
    const restarted = new SpikeLimiter(settings());
    restarted.restore(JSON.parse(JSON.stringify(before.serialize(noon))), noon);
    const kept = replay(restarted, busy, noon, noon + DAY);
    expect(kept.tally.get(9)!.drop).toBe(0);
    expect(kept.events).toEqual([]);
  });

  test("a storm from a new project's first report is cut to the floor in its first minute (a grace would have passed it all)", () => {
    const storm: ProjectTraffic[] = [{ id: 10, base: 12, step: { from: noon, to: noon + 10 * MINUTE, factor: 50 } }]; // ~2,700 a minute
    const r = replay(new SpikeLimiter(settings()), storm, noon, noon + 10 * MINUTE);
    const first = r.limits.get(10)!;
    const t = r.tally.get(10)!;
    // Its first minute: the floor (60) + the 10 s burst + the first report of each of its 20 groups.
    expect(first.get(noon / MINUTE)).toBe(60);
    const firstMinute = replay(new SpikeLimiter(settings()), storm, noon, noon + MINUTE).tally.get(10)!;
    expect(firstMinute.pass + firstMinute.novel).toBeLessThanOrEqual(60 + 10 + 20);
    expect(firstMinute.drop).toBeGreaterThan(2000);
    console.log(
      `new project's storm (~2,700/min for 10 min): first minute ${firstMinute.pass + firstMinute.novel} passed, ${firstMinute.drop} dropped; over 10 minutes ${t.pass + t.novel} passed, ${t.drop} dropped (learned as its baseline after the first minute)`,
    );
  });
});

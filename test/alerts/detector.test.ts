import { describe, expect, test } from "bun:test";
import { EpisodeDetector, MAX_TRACKS } from "../../src/alerts/detector.ts";
import { eventTitle, TopTitles } from "../../src/alerts/titles.ts";

const T0 = 1_700_000_000_000;

describe("EpisodeDetector", () => {
  test("one start when drops reach the threshold within a minute, one end after the quiet time", () => {
    const d = new EpisodeDetector(10, 5000);
    for (let i = 0; i < 9; i++) d.drop(1, "flood", "error", null, T0 + i * 1000);
    expect(d.tick(T0 + 9000)).toEqual([]);
    d.drop(1, "flood", "error", null, T0 + 9500);
    const started = d.tick(T0 + 9600);
    expect(started.map((e) => e.kind)).toEqual(["start"]);
    expect(started[0]!.episode).toMatchObject({ project: 1, reason: "flood", ratePerMinute: 10 });
    // Drops keep coming: no second start.
    for (let i = 0; i < 300; i++) d.drop(1, "flood", "error", null, T0 + 10_000 + i);
    expect(d.tick(T0 + 11_000)).toEqual([]);
    expect(d.tick(T0 + 10_299 + 4999)).toEqual([]);
    const ended = d.tick(T0 + 10_299 + 5000);
    expect(ended.map((e) => e.kind)).toEqual(["quiet"]);
    expect(ended[0]!.episode.dropped).toBe(310);
    expect(d.tick(T0 + 60_000)).toEqual([]);
    expect(d.active()).toEqual([]);
  });

  test("drops spread over more than a minute do not start an episode", () => {
    const d = new EpisodeDetector(10, 5000);
    for (let i = 0; i < 30; i++) {
      d.drop(1, "flood", "error", null, T0 + i * 7000);
      expect(d.tick(T0 + i * 7000)).toEqual([]);
    }
  });

  test("projects and reasons are separate episodes", () => {
    const d = new EpisodeDetector(3, 5000);
    for (let i = 0; i < 3; i++) {
      d.drop(1, "flood", "error", null, T0);
      d.drop(2, "flood", "error", null, T0);
      d.drop(1, "sampled", "error", null, T0);
    }
    expect(
      d
        .tick(T0)
        .map((e) => e.episode.key)
        .sort(),
    ).toEqual(["1|flood", "1|sampled", "2|flood"]);
  });

  test("top titles of the episode's drops", () => {
    const d = new EpisodeDetector(5, 5000);
    for (let i = 0; i < 4; i++) d.drop(1, "flood", "error", { exception: { values: [{ type: "TypeError", value: "x is undefined" }] } }, T0);
    d.drop(1, "flood", "error", { message: "<script>alert(1)</script>" }, T0);
    const [start] = d.tick(T0);
    expect(start!.top).toEqual([
      { title: "TypeError: x is undefined", count: 4 },
      { title: "<script>alert(1)</script>", count: 1 },
    ]);
  });

  test("in a heavy second titles are sampled, and counted about right", () => {
    const d = new EpisodeDetector(5, 5000);
    // 10,000 drops in one second, a quarter of them "rare": about 1,240 titles are read, so the
    // counts are within a few percent (each bound below is over 6 standard deviations away).
    for (let i = 0; i < 10_000; i++) d.drop(1, "flood", "error", { message: i % 4 === 0 ? "rare" : "common" }, T0);
    const [start] = d.tick(T0);
    const counts = Object.fromEntries(start!.top.map((t) => [t.title, t.count]));
    expect(counts.rare!).toBeGreaterThan(1500);
    expect(counts.rare!).toBeLessThan(3500);
    expect(counts.common!).toBeGreaterThan(6000);
    expect(counts.common!).toBeLessThan(9000);
  });

  test("memory is bounded: pairs past MAX_TRACKS are not followed, and quiet pairs are forgotten", () => {
    const d = new EpisodeDetector(1000, 5000);
    for (let p = 0; p < MAX_TRACKS + 50; p++) d.drop(p, "flood", "error", null, T0);
    expect(Object.keys(d.recent(MAX_TRACKS + 10, T0))).toEqual([]);
    expect(d.recent(5, T0)).toEqual({ flood: 1 });
    d.tick(T0 + 61_000);
    expect(d.recent(5, T0 + 61_000)).toEqual({});
  });
});

describe("titles", () => {
  test("exception type and value, else message forms, first line, bounded", () => {
    expect(
      eventTitle({
        exception: {
          values: [
            { type: "A", value: "first" },
            { type: "B", value: "last\nmore" },
          ],
        },
      }),
    ).toBe("B: last");
    expect(eventTitle({ exception: [{ type: "OldStyle" }] })).toBe("OldStyle");
    expect(eventTitle({ logentry: { formatted: "formatted msg" } })).toBe("formatted msg");
    expect(eventTitle({ message: { formatted: "msg obj" } })).toBe("msg obj");
    expect(eventTitle({ "sentry.interfaces.Message": { message: "legacy" } })).toBe("legacy");
    expect(eventTitle({ level: "error" })).toBeNull();
    expect(eventTitle({ message: "x".repeat(1000) })!.length).toBe(200);
  });

  test("TopTitles keeps a flooding title among few slots", () => {
    const top = new TopTitles(5);
    for (let i = 0; i < 1000; i++) {
      top.add(`noise ${i}`);
      if (i % 2 === 0) top.add("the flood");
    }
    expect(top.size).toBe(5);
    expect(top.top(1)[0]!.title).toBe("the flood");
  });
});

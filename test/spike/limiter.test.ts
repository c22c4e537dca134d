/**
 * The limiter's answers to issue 19's bad input (a project never seen, clock jumps, a restart
 * mid-episode, category names Sentry does not know) and its novelty lane, per-project overrides
 * and bounds. Every case runs on an injected clock.
 */
import { describe, expect, test } from "bun:test";
import { LANES } from "../../src/spike/categories.ts";
import { CLOCK_JUMP_MS, MAX_SPIKE_LANES, MAX_SPIKE_PROJECTS, SpikeLimiter, Verdict, type EpisodeEvent } from "../../src/spike/limiter.ts";
import { NOVEL_PER_MINUTE } from "../../src/spike/lane.ts";
import { NoveltyLog } from "../../src/spike/novelty.ts";
import { DAY, HOUR, MINUTE, MONDAY } from "./replay.ts";

/** `perMinute` reports spread over [from, from + minutes); returns verdict counts. */
function steady(l: SpikeLimiter, project: number, perMinute: number, from: number, minutes: number, category = "error", key: (i: number) => string | null = () => null) {
  const counts = [0, 0, 0, 0];
  const n = perMinute * minutes;
  for (let i = 0; i < n; i++) counts[l.check(project, category, key(i), from + Math.floor((i * MINUTE) / perMinute))]!++;
  return { pass: counts[0]!, novel: counts[1]!, drop: counts[2]!, wouldDrop: counts[3]! };
}

/** A burst of `n` reports within one second at `at`. */
function burst(l: SpikeLimiter, project: number, n: number, at: number, category = "error", key: (i: number) => string | null = () => null) {
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) counts[l.check(project, category, key(i), at + Math.floor((i * 1000) / n))]!++;
  return { pass: counts[0]!, novel: counts[1]!, drop: counts[2]!, wouldDrop: counts[3]! };
}

const learned = (floor = 60) => {
  const l = new SpikeLimiter({ mode: "enforce", floor });
  steady(l, 1, 100, MONDAY, 3 * 60);
  return l;
};

describe("a project never seen before", () => {
  test("is limited at the floor from its first report: a burst of 10 s of it, then its rate", () => {
    const l = new SpikeLimiter({ mode: "enforce", floor: 60 });
    const r = burst(l, 42, 500, MONDAY);
    expect(r.pass).toBeGreaterThanOrEqual(10);
    expect(r.pass).toBeLessThanOrEqual(11);
    expect(r.drop).toBe(500 - r.pass);
    expect(l.limitOf(42, "error")).toBe(60);
    // another new project is not touched by the first one's episode
    expect(burst(l, 43, 10, MONDAY + 500).pass).toBe(10);
  });

  test("a per-project floor and mode override the defaults; off counts nothing", () => {
    const l = new SpikeLimiter({ mode: "enforce", floor: 60, projects: { "7": { floor: 600 }, "8": { mode: "off" }, "9": { mode: "shadow" } } });
    expect(burst(l, 7, 100, MONDAY).pass).toBe(100);
    expect(burst(l, 8, 1000, MONDAY).pass).toBe(1000);
    expect(l.limitOf(8, "error")).toBeNull();
    const shadow = burst(l, 9, 100, MONDAY);
    expect(shadow.drop).toBe(0);
    expect(shadow.wouldDrop).toBe(90);
  });
});

describe("clock jumps", () => {
  test("a jump forward keeps the learned limit and raises no episode", () => {
    const l = learned();
    const before = l.limitOf(1, "error")!;
    const events: EpisodeEvent[] = [];
    l.onEpisode((e) => events.push(e));
    const later = MONDAY + 3 * HOUR + 30 * DAY;
    expect(steady(l, 1, 100, later, 10).drop).toBe(0);
    expect(l.limitOf(1, "error")).toBeGreaterThanOrEqual(before * 0.9);
    expect(events).toEqual([]);
  });

  test("a jump back neither refuses everything nor stops time: traffic under the limit passes", () => {
    const l = learned();
    const earlier = MONDAY - DAY;
    expect(steady(l, 1, 100, earlier, 10).drop).toBe(0);
    // and a spike there is still cut
    expect(burst(l, 1, 2000, earlier + 10 * MINUTE).drop).toBeGreaterThan(1500);
  });

  test("a step back within the tolerance is read as no time passing", () => {
    const l = learned();
    const at = MONDAY + 3 * HOUR;
    l.check(1, "error", null, at);
    expect(l.check(1, "error", null, at - 1000)).toBe(Verdict.pass);
    expect(CLOCK_JUMP_MS).toBeGreaterThan(MINUTE);
  });
});

describe("a restart mid-episode", () => {
  test("restores the baseline and the episode: still limited at once, ends after the quiet time", () => {
    const l = learned();
    const at = MONDAY + 3 * HOUR;
    const spike = burst(l, 1, 3000, at);
    expect(spike.drop).toBeGreaterThan(2500);
    const saved = JSON.parse(JSON.stringify(l.serialize(at + 1000)));
    const restarted = new SpikeLimiter({ mode: "enforce", floor: 60 });
    const events: EpisodeEvent[] = [];
    restarted.onEpisode((e) => events.push(e));
    const back = at + 5 * MINUTE;
    expect(restarted.restore(saved, back)).toBe(1);
    expect(restarted.limitOf(1, "error")).toBeCloseTo(l.limitOf(1, "error")!, 5);
    expect(restarted.episodes().map((e) => [e.projectId, e.dropped])).toEqual([[1, spike.drop]]);
    expect(burst(restarted, 1, 1000, back).drop).toBeGreaterThan(900);
    restarted.tick(back + 2 * MINUTE);
    expect(events.map((e) => e.kind)).toEqual(["end"]);
    expect(restarted.episodes()).toEqual([]);
  });

  test("a malformed state is skipped field by field, never trusted", () => {
    const l = new SpikeLimiter({ mode: "enforce", floor: 60 });
    expect(l.restore(null, MONDAY)).toBe(0);
    expect(l.restore({ version: 2 }, MONDAY)).toBe(0);
    const n = l.restore(
      {
        version: 1,
        lanes: [null, { project: -1 }, { project: 1, category: "nonsense", baseline: {} }, { project: 2, category: "error", baseline: { fast: "x", minutes: 1e9, profile: [1] } }],
      },
      MONDAY,
    );
    expect(n).toBe(1);
    expect(burst(l, 2, 5, MONDAY).pass).toBe(5);
  });
});

describe("categories", () => {
  test("error, default and security share one lane; names Sentry does not know count with them", () => {
    const mixed = ["error", "default", "security", "no-such-category"];
    const l2 = new SpikeLimiter({ mode: "enforce", floor: 60 });
    let passed = 0;
    for (let i = 0; i < 400; i++) passed += l2.check(1, mixed[i % 4]!, null, MONDAY + i) === Verdict.pass ? 1 : 0;
    expect(passed).toBe(10);
    expect(l2.serialize(MONDAY).lanes.map((x) => x.category)).toEqual(["error"]);
  });

  test("transactions have their own lane; sessions, client reports and check-ins are never limited", () => {
    const l = new SpikeLimiter({ mode: "enforce", floor: 60 });
    expect(burst(l, 1, 100, MONDAY, "error").drop).toBe(90);
    expect(burst(l, 1, 10, MONDAY + 100, "transaction").pass).toBe(10);
    for (const exempt of ["session", "internal", "monitor"]) expect(burst(l, 1, 1000, MONDAY + 200, exempt).pass).toBe(1000);
    expect(
      l
        .serialize(MONDAY)
        .lanes.map((x) => x.category)
        .sort(),
    ).toEqual(["error", "transaction"]);
    expect(LANES.length).toBeLessThan(16);
  });

  test("the rate-limit header names the lane's categories, its seconds and spike_protection", () => {
    const l = new SpikeLimiter({ mode: "enforce", floor: 60 });
    expect(l.rateLimitHeader("default", 7)).toBe("7:error;default;security:project:spike_protection");
    expect(l.rateLimitHeader("transaction", 1)).toBe("1:transaction:project:spike_protection");
  });
});

describe("Retry-After of a refusal: when the lane admits again", () => {
  /** The first refusal of a storm at `at` on a lane of floor `floor`, and its Retry-After. */
  const refusal = (floor: number, share = 1) => {
    const l = new SpikeLimiter({ mode: "enforce", floor });
    let t = MONDAY;
    while (l.check(1, "error", null, t) !== Verdict.drop) t += 1;
    return { l, t, seconds: l.retryAfter(1, "error", t) };
  };

  test("is the time to the bucket's next token: 1 s at 60 a minute, up to 10 s at 6, capped at 60 s", () => {
    expect(refusal(60).seconds).toBe(1);
    // 6 a minute: a token every 10 s; the bucket was just emptied, so the next is 10 s away.
    expect(refusal(6).seconds).toBe(10);
    expect(refusal(1).seconds).toBe(60);
    expect(refusal(120).seconds).toBe(1); // never under 1: Retry-After is whole seconds
  });

  test("a report after Retry-After passes; one before it is refused", () => {
    const { l, t, seconds } = refusal(6);
    expect(l.check(1, "error", null, t + seconds * 1000 - 1500)).toBe(Verdict.drop);
    // Later refusals say how much is left, not the whole again.
    expect(l.retryAfter(1, "error", t + seconds * 1000 - 1500)).toBe(2);
    expect(l.check(1, "error", null, t + seconds * 1000)).toBe(Verdict.pass);
  });

  test("a lane it does not know (no report yet) gets the least, 1 s", () => {
    expect(new SpikeLimiter({ mode: "enforce", floor: 60 }).retryAfter(9, "error", MONDAY)).toBe(1);
  });
});

describe("the novelty lane", () => {
  test("while limited, the first report of a group not seen in the past hour passes, and only the first", () => {
    const l = learned();
    const at = MONDAY + 3 * HOUR;
    // the storm: one old group, seen before the spike
    l.check(1, "error", "old", at - 10 * MINUTE);
    const storm = burst(l, 1, 2000, at, "error", () => "old");
    expect(storm.novel).toBe(0);
    const newcomers = burst(l, 1, 2000, at + 1000, "error", (i) => (i % 400 === 0 ? `new-${i}` : "old"));
    expect(newcomers.novel).toBe(5);
    expect(burst(l, 1, 100, at + 2000, "error", () => "new-0").novel).toBe(0);
  });

  test("lets at most NOVEL_PER_MINUTE through per minute, so distinct errors cannot bypass the limit", () => {
    const l = learned();
    const r = burst(l, 1, 5000, MONDAY + 3 * HOUR, "error", (i) => `distinct-${i}`);
    expect(r.novel).toBe(NOVEL_PER_MINUTE);
    expect(r.drop).toBeGreaterThan(4000);
  });

  test("its memory is bounded, and a full memory calls nothing new", () => {
    const log = new NoveltyLog(100);
    for (let i = 0; i < 1000; i++) log.observe(`k${i}`, MONDAY);
    expect(log.size).toBe(100);
    expect(log.observe("another", MONDAY)).toBe(false);
    // an hour later the generation turns over and keys are new again after two
    expect(log.observe("k0", MONDAY + HOUR)).toBe(false);
    expect(log.observe("fresh", MONDAY + HOUR)).toBe(true);
    expect(log.observe("k500", MONDAY + 3 * HOUR)).toBe(true);
  });
});

describe("bounds", () => {
  test("projects and lanes are bounded: past them reports pass unlimited and are counted, memory does not grow", () => {
    const l = new SpikeLimiter({ mode: "enforce", floor: 60 });
    for (let p = 0; p < MAX_SPIKE_PROJECTS + 500; p++) l.check(p, "error", null, MONDAY);
    expect(l.untracked).toBe(500);
    expect(l.serialize(MONDAY).lanes.length).toBe(MAX_SPIKE_PROJECTS);
    for (let p = 0; p < MAX_SPIKE_PROJECTS; p++) l.check(p, "transaction", null, MONDAY);
    expect(l.serialize(MONDAY).lanes.length).toBe(MAX_SPIKE_LANES);
    // an off-mode default with many unknown ids remembers at most the bound too
    const off = new SpikeLimiter({ mode: "off", floor: 60, projects: { "1": { mode: "enforce" } } });
    for (let p = 0; p < MAX_SPIKE_PROJECTS + 10; p++) off.check(p, "error", null, MONDAY);
    expect(off.untracked).toBe(10);
  });
});

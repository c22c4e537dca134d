import { describe, expect, test } from "bun:test";
import pino from "pino";
import { EpisodeLog, MAX_LINES_PER_SECOND } from "../../src/spike/episode-log.ts";
import type { EpisodeEvent } from "../../src/spike/limiter.ts";

function capture() {
  const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  const log = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

const episode = (projectId: number, kind: "start" | "end" = "start", mode: "shadow" | "enforce" = "shadow"): EpisodeEvent => ({
  kind,
  projectId,
  category: "error",
  mode,
  at: 61_000,
  startedAt: 1_000,
  limitPerMinute: 60,
  observedPerMinute: 120,
  dropped: 3,
  accepted: 10,
  novel: 1,
});

describe("EpisodeLog", () => {
  test("a line per start and end, with the episode's numbers", () => {
    const { log, lines } = capture();
    const el = new EpisodeLog(log);
    el.record(episode(7));
    el.record(episode(7, "end", "enforce"));
    el.flush();
    expect(lines.map((l) => l.msg)).toEqual(["spike protection: episode started", "spike protection: episode ended"]);
    expect(lines[0]).toMatchObject({ level: 30, project: 7, mode: "shadow", limit_per_minute: 60, observed_per_minute: 120 });
    expect(lines[1]).toMatchObject({ level: 40, project: 7, dropped: 3, accepted: 10, novel: 1, seconds: 60 });
  });

  test("past the lines of a second, the rest are counted in one line when the second ends, then lines resume", () => {
    const { log, lines } = capture();
    const el = new EpisodeLog(log);
    for (let p = 1; p <= 5000; p++) el.record(episode(p));
    el.record(episode(1, "end"));
    expect(lines).toHaveLength(MAX_LINES_PER_SECOND);
    el.flush();
    expect(lines).toHaveLength(MAX_LINES_PER_SECOND + 1);
    expect(lines.at(-1)).toMatchObject({ level: 30, episodes_started: 5000 - MAX_LINES_PER_SECOND, episodes_ended: 1, enforced: 0 });
    el.flush(); // nothing new: no line
    el.record(episode(9, "end"));
    expect(lines).toHaveLength(MAX_LINES_PER_SECOND + 2);
    expect(lines.at(-1)).toMatchObject({ msg: "spike protection: episode ended", project: 9 });
  });

  test("the summary is a warning when an enforced episode is among those not logged", () => {
    const { log, lines } = capture();
    const el = new EpisodeLog(log);
    for (let p = 1; p <= MAX_LINES_PER_SECOND; p++) el.record(episode(p));
    el.record(episode(99, "start", "enforce"));
    el.flush();
    expect(lines.at(-1)).toMatchObject({ level: 40, episodes_started: 1, enforced: 1 });
  });
});

import { describe, expect, test } from "bun:test";
import pino from "pino";
import { Narrator } from "../../src/status/narrator.ts";
import { Stats } from "../../src/stats/counters.ts";
import { prettyLine } from "../../src/log.ts";

function capture() {
  const out: Array<{ level: string; msg: string; [k: string]: unknown }> = [];
  const log = pino({ level: "info", formatters: { level: (label) => ({ level: label }) } }, { write: (s: string) => void out.push(JSON.parse(s)) });
  return { log, out };
}

const T0 = 1_700_000_000_000;

describe("Narrator", () => {
  test("queue: one line per level passed upward, one when back under 50 %", () => {
    const { log, out } = capture();
    const n = new Narrator(log, new Stats(), T0);
    const q = (items: number, bytes = 0) => n.queue({ items, bytes, maxItems: 100, maxBytes: 1000 });
    for (const items of [10, 49, 50, 60, 79, 80, 85, 70, 81, 99, 100, 100, 90, 40, 55]) q(items);
    q(0, 850);
    expect(out.map((l) => `${l.level} ${l.msg}`)).toEqual([
      "warn queue passed 50 % of its limit",
      "warn queue passed 80 % of its limit",
      "error queue full: new reports are refused with 429 until Sentry takes some",
      "info queue back under 50 % of its limit",
      "warn queue passed 50 % of its limit",
      "warn queue passed 80 % of its limit",
    ]);
    expect(out.at(-1)).toMatchObject({ bytes: 850, percent: 85 });
  });

  test("a summary each minute that saw drops, by reason; silence otherwise", () => {
    const { log, out } = capture();
    const stats = new Stats();
    const n = new Narrator(log, stats, T0);
    stats.dropped.flood += 120;
    stats.dropped.unknown_key += 3;
    n.drops(T0 + 30_000);
    expect(out).toEqual([]);
    n.drops(T0 + 60_000);
    expect(out).toEqual([expect.objectContaining({ level: "info", msg: "dropped 123 reports in the last 60 s", dropped: 123, by_reason: { flood: 120, unknown_key: 3 } })]);
    n.drops(T0 + 120_000);
    expect(out).toHaveLength(1);
  });

  test("keys: recovering after failures, and none loaded", () => {
    const { log, out } = capture();
    const n = new Narrator(log, new Stats(), T0);
    n.keys({ ready: true, size: 2, lastError: "connection refused", sources: ["postgres"] }, true);
    n.keys({ ready: true, size: 2, lastError: null, sources: ["postgres"] }, true);
    n.keys({ ready: true, size: 2, lastError: null, sources: ["postgres"] }, true);
    n.keys({ ready: true, size: 0, lastError: null, sources: ["postgres"] }, true);
    n.keys({ ready: true, size: 0, lastError: null, sources: ["postgres"] }, true);
    expect(out.map((l) => `${l.level} ${l.msg}`)).toEqual([
      "info project keys loaded again",
      "warn no project keys loaded: every report is refused with 403 until keys are configured (PROJECT_KEYS or DB_BACKEND)",
    ]);
  });
});

test("pretty lines for a terminal", () => {
  expect(prettyLine(JSON.stringify({ level: "warn", time: "2026-01-01T12:34:56.789Z", name: "cyclops", msg: "Sentry unreachable", cause: "connection refused", port: 1 }))).toBe(
    '12:34:56 WARN  Sentry unreachable  cause="connection refused" port=1\n',
  );
});

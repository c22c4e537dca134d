/**
 * The bench's round logic (bench/lib/series.ts): how ratios are taken within rounds, how the
 * baseline's bracket divides them, and how a drifted round is left out and replaced. No server
 * runs here: scenarios answer canned req/s.
 */
import { describe, expect, test } from "bun:test";
import type { RunOutcome } from "../../bench/lib/ingest.ts";
import { MAX_BRACKET_BLOCKS, pairedRatio, runRounds, type Series } from "../../bench/lib/series.ts";

function run(rps: number): RunOutcome {
  return {
    requests: rps,
    seconds: 1,
    rps,
    p50Ms: 1,
    p99Ms: 2,
    cpuUsPerReq: 1,
    faultsPerReq: 0,
    serverCores: 1,
    non2xx: 0,
    socketErrors: 0,
    foreignCores: 0,
    processed: null,
    ignored: null,
    disturbed: false,
    notes: [],
  };
}

function series(rounds: number[], closing?: number[], drifted?: boolean[]): Series {
  const runs = rounds.map(run);
  return {
    conns: 16,
    runs,
    rounds: runs,
    median: runs[0]!,
    rpsMin: 0,
    rpsMax: 0,
    discarded: 0,
    failed: null,
    notes: [],
    ...(closing ? { closing: closing.map(run), drifted } : {}),
  };
}

/** Scenarios whose successive runs answer the given req/s, in order. */
function scripted(plan: Record<string, number[]>) {
  const calls: string[] = [];
  const scenarios = Object.keys(plan).map((id) => ({
    id,
    async once() {
      calls.push(id);
      const next = plan[id]!.shift();
      if (next === undefined) throw new Error(`${id}: no more runs planned`);
      return run(next);
    },
  }));
  return { scenarios, calls };
}

const farFuture = { deadline: Number.POSITIVE_INFINITY };
const quiet = () => {};

describe("pairedRatio", () => {
  test("divides within rounds and takes the median", () => {
    const r = pairedRatio(series([90, 80, 100]), series([100, 100, 100]))!;
    expect(r.perRound).toEqual([0.9, 0.8, 1]);
    expect(r.median).toBe(0.9);
  });

  test("an even number of rounds gives the mean of the middle two", () => {
    expect(pairedRatio(series([70, 90]), series([100, 100]))!.median).toBeCloseTo(0.8, 10);
  });

  test("divides by the geometric mean of the bracketing runs", () => {
    const r = pairedRatio(series([90]), series([100], [81], [false]))!;
    expect(r.perRound[0]).toBeCloseTo(1, 10); // sqrt(100 * 81) = 90
  });

  test("leaves drifted rounds out of the median, and says which", () => {
    const r = pairedRatio(series([90, 50, 92]), series([100, 100, 100], [100, 60, 100], [false, true, false]))!;
    expect(r.perRound.map((x) => Math.round(x * 100))).toEqual([90, 92]);
    expect(r.leftOut.length).toBe(1);
    expect(r.driftedOnly).toBe(false);
  });

  test("falls back to the drifted rounds, flagged, when every round drifted", () => {
    const r = pairedRatio(series([90]), series([100], [50], [true]))!;
    expect(r.driftedOnly).toBe(true);
    expect(r.perRound.length).toBe(1);
  });
});

describe("runRounds with a bracket", () => {
  test("runs the reference again right after the bracketed scenario", async () => {
    const { scenarios, calls } = scripted({ baseline: [100, 100], ingest: [90], other: [50] });
    const out = await runRounds(16, scenarios, 1, [{ id: "ingest", ref: "baseline" }], farFuture, quiet, { ref: "baseline", after: "ingest" });
    expect(calls).toEqual(["baseline", "ingest", "baseline", "other"]);
    const base = out.get("baseline")!;
    expect(base.closing!.map((r) => r?.rps)).toEqual([100]);
    expect(base.drifted).toEqual([false]);
    expect(base.runs.length).toBe(2);
  });

  test("a round whose reference drifted is replaced and left out of the ratio", async () => {
    const { scenarios } = scripted({ baseline: [100, 70, 100, 100], ingest: [60, 95] });
    const out = await runRounds(16, scenarios, 1, [{ id: "ingest", ref: "baseline" }], farFuture, quiet, { ref: "baseline", after: "ingest" });
    const base = out.get("baseline")!;
    expect(base.drifted).toEqual([true, false]);
    const r = pairedRatio(out.get("ingest"), base)!;
    expect(r.perRound).toEqual([0.95]);
    expect(r.leftOut.length).toBe(1);
  });

  test("a drifted round is made up by the bracket alone", async () => {
    const { scenarios, calls } = scripted({ baseline: [100, 60, 100, 100], ingest: [90, 91], flood: [120, 121], other: [50] });
    const out = await runRounds(16, scenarios, 1, [{ id: "ingest", ref: "baseline" }], farFuture, quiet, { ref: "baseline", after: "flood" });
    expect(calls).toEqual(["baseline", "ingest", "flood", "baseline", "other", "baseline", "ingest", "flood", "baseline"]);
    expect(out.get("other")!.rounds.map((r) => r?.rps ?? null)).toEqual([50, null]);
    expect(pairedRatio(out.get("ingest"), out.get("baseline"))!.perRound).toEqual([0.91]);
  });

  test("bracket-only rounds stop at MAX_BRACKET_BLOCKS even when every round drifts", async () => {
    const { scenarios, calls } = scripted({ baseline: Array.from({ length: 20 }, (_, i) => (i % 2 ? 50 : 100)), ingest: Array(10).fill(1) });
    await runRounds(16, scenarios, 1, [{ id: "ingest", ref: "baseline" }], farFuture, quiet, { ref: "baseline", after: "ingest" });
    expect(calls.filter((c) => c === "ingest").length).toBe(1 + MAX_BRACKET_BLOCKS);
  });
});

test("a failed run is noted once, however often the rounds summarize", async () => {
  let n = 0;
  const scenarios = [
    { id: "baseline", once: async () => run(100) },
    {
      id: "ingest",
      once: async () => {
        if (n++ === 0) throw new Error("server died");
        return run(90);
      },
    },
  ];
  const out = await runRounds(16, scenarios, 3, [{ id: "ingest", ref: "baseline" }], farFuture, quiet);
  expect(out.get("ingest")!.notes.filter((x) => x.includes("server died")).length).toBe(1);
});

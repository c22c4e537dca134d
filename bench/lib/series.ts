/**
 * Repetition: each (scenario, connections) pair is run `wanted` times on a fresh server; a run
 * during which something else used noticeable CPU is thrown away and run again, and when the kept
 * runs still spread more than SPREAD_LIMIT two more are added. The median run (by req/s) is
 * reported with the min–max.
 */
import type { RunOutcome } from "./ingest.ts";

/** More than this many cores busy with neither the server nor wrk marks a run as disturbed. */
export const FOREIGN_LIMIT = 0.25;
/** (max − min) / median of req/s above this triggers extra runs. */
export const SPREAD_LIMIT = 0.15;

export interface Budget {
  /** performance.now() past which no further optional runs are started. */
  deadline: number;
}

export interface Series {
  conns: number;
  runs: RunOutcome[];
  median: RunOutcome | null;
  rpsMin: number;
  rpsMax: number;
  /** Disturbed runs that were thrown away. */
  discarded: number;
  failed: string | null;
  notes: string[];
}

export async function runSeries(conns: number, wanted: number, budget: Budget, once: () => Promise<RunOutcome>, log: (s: string) => void): Promise<Series> {
  const runs: RunOutcome[] = [];
  const notes: string[] = [];
  let discarded = 0;
  let attempts = 0;
  // Disturbed runs are repeated at most twice per point (once in a one-run quick pass), and never
  // past the budget's deadline: on a machine that stays busy the run must still end in time.
  const maxAttempts = wanted + (wanted >= 3 ? 2 : 1);
  let target = wanted;
  while (runs.length < target && attempts < maxAttempts) {
    if (attempts >= wanted && performance.now() > budget.deadline) {
      notes.push("time budget reached: extra runs skipped");
      break;
    }
    attempts++;
    let r: RunOutcome;
    try {
      r = await once();
    } catch (e) {
      const reason = (e as Error).message.split("\n")[0]!.slice(0, 300);
      log(`    failed: ${reason}`);
      return { conns, runs, median: null, rpsMin: 0, rpsMax: 0, discarded, failed: reason, notes };
    }
    log(`    run ${attempts}: ${Math.round(r.rps)} req/s, p99 ${r.p99Ms.toFixed(2)} ms, ${r.cpuUsPerReq.toFixed(1)} µs CPU/req, others ${r.foreignCores.toFixed(2)} cores${r.notes.length ? ` (${r.notes.join("; ")})` : ""}`);
    const retriesLeft = attempts < maxAttempts && performance.now() < budget.deadline;
    if (r.foreignCores > FOREIGN_LIMIT && retriesLeft) {
      discarded++;
      log(`    disturbed (${r.foreignCores.toFixed(2)} cores used by others): repeating`);
      continue;
    }
    if (r.foreignCores > FOREIGN_LIMIT) r.disturbed = true;
    runs.push(r);
    if (runs.length === target && target === wanted && wanted >= 3 && spread(runs) > SPREAD_LIMIT && performance.now() < budget.deadline) {
      target = wanted + 2;
      notes.push(`spread ${(spread(runs) * 100).toFixed(0)} % over ${wanted} runs: ${target - wanted} more run`);
    }
  }
  if (runs.length === 0) return { conns, runs, median: null, rpsMin: 0, rpsMax: 0, discarded, failed: "no run completed", notes };
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  if (runs.some((r) => r.disturbed)) notes.push("some kept runs were disturbed by other load");
  return {
    conns,
    runs,
    median: sorted[Math.floor((sorted.length - 1) / 2)]!,
    rpsMin: sorted[0]!.rps,
    rpsMax: sorted[sorted.length - 1]!.rps,
    discarded,
    failed: null,
    notes,
  };
}

function spread(runs: RunOutcome[]): number {
  const rps = runs.map((r) => r.rps).sort((a, b) => a - b);
  const median = rps[Math.floor((rps.length - 1) / 2)]!;
  return median > 0 ? (rps[rps.length - 1]! - rps[0]!) / median : 0;
}

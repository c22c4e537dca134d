/**
 * Repetition, in rounds: at one connection count, every scenario runs once per round, in a fixed
 * order, on a fresh server, and that is repeated `wanted` times. A ratio (cyclops vs the baseline,
 * SQLite vs memory) is taken within each round, between runs a minute apart at most, and the
 * median of those per-round ratios is reported: on this kind of VM the whole machine slows down
 * and speeds up by 15–50 % over minutes, and a baseline measured five minutes before the scenario
 * it divides said more about that drift than about cyclops.
 *
 * A run during which something else used noticeable CPU is thrown away and run again; when the
 * per-round ratios still spread more than SPREAD_LIMIT, two more rounds are added. The median run
 * (by req/s) of each scenario is reported with the min–max.
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
  /** The kept run of each round (null: failed or none kept), for ratios within a round. */
  rounds: Array<RunOutcome | null>;
  median: RunOutcome | null;
  rpsMin: number;
  rpsMax: number;
  /** Disturbed runs that were thrown away. */
  discarded: number;
  failed: string | null;
  notes: string[];
}

function summarize(conns: number, runs: RunOutcome[], rounds: Array<RunOutcome | null>, discarded: number, failed: string | null, notes: string[]): Series {
  if (runs.length === 0) return { conns, runs, rounds, median: null, rpsMin: 0, rpsMax: 0, discarded, failed: failed ?? "no run completed", notes };
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  if (runs.some((r) => r.disturbed)) notes.push("some kept runs were disturbed by other load");
  if (failed) notes.push(`a run failed: ${failed}`);
  return {
    conns,
    runs,
    rounds,
    median: sorted[Math.floor((sorted.length - 1) / 2)]!,
    rpsMin: sorted[0]!.rps,
    rpsMax: sorted[sorted.length - 1]!.rps,
    discarded,
    failed: null,
    notes,
  };
}

export interface RoundScenario {
  id: string;
  once(): Promise<RunOutcome>;
}

/** A ratio the rounds must pin down: `id`'s req/s over `ref`'s, in the same round. */
export interface RatioPair {
  id: string;
  ref: string;
}

/** The median of x/y over the rounds where both ran; null when no round has both. */
export function pairedRatio(a: Series | undefined, b: Series | undefined): { median: number; perRound: number[] } | null {
  if (!a || !b) return null;
  const perRound: number[] = [];
  for (let i = 0; i < Math.min(a.rounds.length, b.rounds.length); i++) {
    const x = a.rounds[i];
    const y = b.rounds[i];
    if (x && y && y.rps > 0) perRound.push(x.rps / y.rps);
  }
  if (perRound.length === 0) return null;
  const sorted = [...perRound].sort((p, q) => p - q);
  return { median: sorted[Math.floor((sorted.length - 1) / 2)]!, perRound };
}

/**
 * Runs every scenario once per round, `wanted` rounds (two more when a ratio of `pairs` spreads
 * more than SPREAD_LIMIT over them), and returns each scenario's series.
 */
export async function runRounds(conns: number, scenarios: RoundScenario[], wanted: number, pairs: RatioPair[], budget: Budget, log: (s: string) => void): Promise<Map<string, Series>> {
  const state = new Map(scenarios.map((s) => [s.id, { runs: [] as RunOutcome[], rounds: [] as Array<RunOutcome | null>, discarded: 0, failed: null as string | null, notes: [] as string[] }]));
  let target = wanted;
  for (let round = 0; round < target; round++) {
    if (round >= wanted && performance.now() > budget.deadline) {
      for (const st of state.values()) st.notes.push("time budget reached: extra rounds skipped");
      break;
    }
    log(`  round ${round + 1} of ${target} at ${conns} connections`);
    for (const s of scenarios) {
      const st = state.get(s.id)!;
      let kept: RunOutcome | null = null;
      // One repeat of a disturbed run, never past the budget's deadline.
      for (let attempt = 1; attempt <= 2 && kept === null; attempt++) {
        let r: RunOutcome;
        try {
          r = await s.once();
        } catch (e) {
          st.failed = (e as Error).message.split("\n")[0]!.slice(0, 300);
          log(`    ${s.id}: failed: ${st.failed}`);
          break;
        }
        log(`    ${s.id}: ${Math.round(r.rps)} req/s, p99 ${r.p99Ms.toFixed(2)} ms, ${r.cpuUsPerReq.toFixed(1)} µs CPU/req, others ${r.foreignCores.toFixed(2)} cores${r.notes.length ? ` (${r.notes.join("; ")})` : ""}`);
        if (r.foreignCores > FOREIGN_LIMIT && attempt === 1 && performance.now() < budget.deadline) {
          st.discarded++;
          log(`    disturbed (${r.foreignCores.toFixed(2)} cores used by others): repeating`);
          continue;
        }
        if (r.foreignCores > FOREIGN_LIMIT) r.disturbed = true;
        kept = r;
      }
      if (kept) st.runs.push(kept);
      st.rounds.push(kept);
    }
    if (round + 1 === wanted && wanted >= 3) {
      const series = (id: string) => state.has(id) ? summarize(conns, state.get(id)!.runs, state.get(id)!.rounds, 0, null, []) : undefined;
      const wide = pairs
        .map((p) => ({ p, r: pairedRatio(series(p.id), series(p.ref)) }))
        .filter(({ r }) => r !== null && r.perRound.length >= 2 && (Math.max(...r.perRound) - Math.min(...r.perRound)) / r.median > SPREAD_LIMIT);
      if (wide.length > 0 && performance.now() < budget.deadline) {
        target = wanted + 2;
        const names = wide.map(({ p }) => `${p.id}/${p.ref}`).join(", ");
        for (const st of state.values()) st.notes.push(`ratios spread over 15 % in ${wanted} rounds (${names}): 2 more rounds`);
      }
    }
  }
  const out = new Map<string, Series>();
  for (const [id, st] of state) out.set(id, summarize(conns, st.runs, st.rounds, st.discarded, st.failed, st.notes));
  return out;
}

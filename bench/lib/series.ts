/**
 * Repetition, in rounds: at one connection count, every scenario runs once per round, in a fixed
 * order, on a fresh server, and that is repeated `wanted` times. A ratio (cyclops vs the baseline,
 * SQLite vs memory) is taken within each round, between runs a minute apart at most, and the
 * median of those per-round ratios is reported: on this kind of VM the whole machine slows down
 * and speeds up by 15–50 % over minutes, and a baseline measured five minutes before the scenario
 * it divides said more about that drift than about cyclops.
 *
 * The reference of the main bars (the baseline) brackets the scenarios judged against it: it runs
 * first in the round and once more right after them (`Bracket`), and those scenarios are divided by
 * the geometric mean of the two runs. The VM's slow phases begin and end without warning and
 * /proc/stat shows no steal time, so the only sign of one is the same program measuring
 * differently a minute apart: a round whose two baseline runs differ by more than DRIFT_LIMIT is
 * left out of the ratios against the baseline (they are listed apart), and made up by a round of
 * the bracket alone (baseline, the bracketed scenarios, baseline), up to MAX_BRACKET_BLOCKS.
 *
 * A run during which something else used noticeable CPU is thrown away and run again; when the
 * per-round ratios still spread more than SPREAD_LIMIT, MAX_EXTRA_ROUNDS more rounds are added.
 * The median run (by req/s) of each scenario is reported with the min–max.
 */
import type { RunOutcome } from "./ingest.ts";

/** More than this many cores busy with neither the server nor wrk marks a run as disturbed. */
export const FOREIGN_LIMIT = 0.25;
/** (max − min) / median of req/s above this triggers extra runs. */
export const SPREAD_LIMIT = 0.15;
/** The reference's opening and closing runs of a round differing by more than this (of their mean) leaves the round out. */
export const DRIFT_LIMIT = 0.1;
/** Full rounds added to the wanted ones when ratios spread. */
export const MAX_EXTRA_ROUNDS = 2;
/** Bracket-only rounds that make up for drifted ones, at most (the whole set must stay under 15 minutes). */
export const MAX_BRACKET_BLOCKS = 4;

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
  /** The bracket's reference only: its closing run of each round (null: failed or none). */
  closing?: Array<RunOutcome | null>;
  /** The bracket's reference only: per round, whether its opening and closing runs drifted apart. */
  drifted?: boolean[];
  /** Disturbed runs that were thrown away. */
  discarded: number;
  failed: string | null;
  notes: string[];
}

interface SeriesState {
  runs: RunOutcome[];
  rounds: Array<RunOutcome | null>;
  closing?: Array<RunOutcome | null>;
  drifted?: boolean[];
  discarded: number;
  failed: string | null;
  notes: string[];
}

function summarize(conns: number, st: SeriesState): Series {
  const { runs, rounds, closing, drifted, discarded, failed } = st;
  // A copy: the rounds summarize mid-way too (the spread check), and must not add these twice.
  const notes = [...st.notes];
  const bracket = closing ? { closing, drifted } : {};
  if (runs.length === 0) return { conns, runs, rounds, ...bracket, median: null, rpsMin: 0, rpsMax: 0, discarded, failed: failed ?? "no run completed", notes };
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  if (runs.some((r) => r.disturbed)) notes.push("some kept runs were disturbed by other load");
  if (failed) notes.push(`a run failed: ${failed}`);
  return {
    conns,
    runs,
    rounds,
    ...bracket,
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

/**
 * The median of x/y over the rounds where both ran; null when no round has both. When `b` brackets
 * the rounds, y is the geometric mean of its opening and closing runs, and rounds in which those
 * drifted apart are left out of the median (returned in `leftOut`), unless every round did.
 */
export function pairedRatio(a: Series | undefined, b: Series | undefined): { median: number; perRound: number[]; leftOut: number[]; driftedOnly: boolean } | null {
  if (!a || !b) return null;
  const perRound: number[] = [];
  const leftOut: number[] = [];
  for (let i = 0; i < Math.min(a.rounds.length, b.rounds.length); i++) {
    const x = a.rounds[i];
    const y = b.rounds[i];
    if (!x || !y || y.rps <= 0) continue;
    const z = b.closing?.[i];
    const ratio = x.rps / (z && z.rps > 0 ? Math.sqrt(y.rps * z.rps) : y.rps);
    (b.drifted?.[i] ? leftOut : perRound).push(ratio);
  }
  // Every round drifted: better their median, flagged, than no figure at all.
  const driftedOnly = perRound.length === 0 && leftOut.length > 0;
  const used = driftedOnly ? leftOut : perRound;
  if (used.length === 0) return null;
  return { median: median(used), perRound: used, leftOut: driftedOnly ? [] : leftOut, driftedOnly };
}

/** The middle value; with an even count, the mean of the two middle ones. */
export function median(values: number[]): number {
  const sorted = [...values].sort((p, q) => p - q);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The reference `ref` runs again right after scenario `after`, closing each round's bracket. */
export interface Bracket {
  ref: string;
  after: string;
}

/**
 * Runs every scenario once per round, `wanted` rounds (more when a ratio of `pairs` spreads more
 * than SPREAD_LIMIT over them, or the bracket's reference drifted within a round), and returns
 * each scenario's series.
 */
export async function runRounds(
  conns: number,
  scenarios: RoundScenario[],
  wanted: number,
  pairs: RatioPair[],
  budget: Budget,
  log: (s: string) => void,
  bracket?: Bracket,
): Promise<Map<string, Series>> {
  const state = new Map<string, SeriesState>(scenarios.map((s) => [s.id, { runs: [], rounds: [], discarded: 0, failed: null, notes: [] }]));
  const reference = bracket && state.has(bracket.ref) && state.has(bracket.after) ? state.get(bracket.ref)! : null;
  if (reference) {
    reference.closing = [];
    reference.drifted = [];
    reference.notes.push("each round runs it twice, first and again right after the scenarios the bars divide by it; the ratios use both");
  }
  const series = (id: string) => (state.has(id) ? summarize(conns, state.get(id)!) : undefined);

  /** One kept run of `s` (one repeat when disturbed, never past the deadline); null when it failed. */
  const runKept = async (s: RoundScenario, st: SeriesState): Promise<RunOutcome | null> => {
    for (let attempt = 1; attempt <= 2; attempt++) {
      let r: RunOutcome;
      try {
        r = await s.once();
      } catch (e) {
        st.failed = (e as Error).message.split("\n")[0]!.slice(0, 300);
        log(`    ${s.id}: failed: ${st.failed}`);
        return null;
      }
      log(
        `    ${s.id}: ${Math.round(r.rps)} req/s, p99 ${r.p99Ms.toFixed(2)} ms, ${r.cpuUsPerReq.toFixed(1)} µs CPU/req, others ${r.foreignCores.toFixed(2)} cores${r.notes.length ? ` (${r.notes.join("; ")})` : ""}`,
      );
      if (r.foreignCores > FOREIGN_LIMIT && attempt === 1 && performance.now() < budget.deadline) {
        st.discarded++;
        log(`    disturbed (${r.foreignCores.toFixed(2)} cores used by others): repeating`);
        continue;
      }
      if (r.foreignCores > FOREIGN_LIMIT) r.disturbed = true;
      st.runs.push(r);
      return r;
    }
    return null;
  };

  /**
   * Runs `list` once as round number `round` (0-based): every scenario of `scenarios` gets an entry,
   * null for those not in `list`, and the bracket closes after its `after` scenario.
   */
  const runRound = async (round: number, list: RoundScenario[]): Promise<void> => {
    for (const s of scenarios) {
      const st = state.get(s.id)!;
      st.rounds.push(list.includes(s) ? await runKept(s, st) : null);
      if (reference && s.id === bracket!.after) {
        log(`    ${bracket!.ref} again, closing the round's bracket:`);
        const closing = await runKept(scenarios.find((x) => x.id === bracket!.ref)!, reference);
        reference.closing!.push(closing);
        const opening = reference.rounds[round];
        const drift = opening && closing ? Math.abs(opening.rps - closing.rps) / ((opening.rps + closing.rps) / 2) : 0;
        reference.drifted!.push(drift > DRIFT_LIMIT);
        if (drift > DRIFT_LIMIT) {
          const note = `round ${round + 1}: ${bracket!.ref} ran at ${Math.round(opening!.rps)} then ${Math.round(closing!.rps)} req/s (${(drift * 100).toFixed(0)} % apart), so its ratios to ${bracket!.ref} are left out`;
          log(`    drifted: ${note}`);
          reference.notes.push(note);
        }
      }
    }
  };

  let target = wanted;
  let round = 0;
  for (; round < target; round++) {
    if (round >= wanted && performance.now() > budget.deadline) {
      for (const st of state.values()) st.notes.push("time budget reached: extra rounds skipped");
      break;
    }
    log(`  round ${round + 1} of ${target} at ${conns} connections`);
    await runRound(round, scenarios);
    if (round + 1 === wanted && wanted >= 3) {
      const wide = pairs
        .map((p) => ({ p, r: pairedRatio(series(p.id), series(p.ref)) }))
        .filter(({ r }) => r !== null && r.perRound.length >= 2 && (Math.max(...r.perRound) - Math.min(...r.perRound)) / r.median > SPREAD_LIMIT);
      if (wide.length > 0) {
        target = wanted + MAX_EXTRA_ROUNDS;
        const names = wide.map(({ p }) => `${p.id}/${p.ref}`).join(", ");
        for (const st of state.values()) st.notes.push(`ratios spread over 15 % in ${wanted} rounds (${names}): ${MAX_EXTRA_ROUNDS} more rounds`);
      }
    }
  }

  // A drifted round is made up by its bracket alone (the reference, the scenarios it brackets, the
  // reference again): a third of a round, so more of them fit the time budget.
  if (reference) {
    const block = scenarios.slice(0, scenarios.findIndex((s) => s.id === bracket!.after) + 1);
    const fullRounds = round;
    for (let extra = 0; extra < MAX_BRACKET_BLOCKS; extra++) {
      const steady = reference.drifted!.filter((d, i) => !d && reference.rounds[i] && reference.closing![i]).length;
      if (steady >= fullRounds) break;
      if (performance.now() > budget.deadline) {
        reference.notes.push("time budget reached: drifted rounds not made up");
        break;
      }
      log(`  round ${round + 1} at ${conns} connections: the bracket only (${block.map((s) => s.id).join(", ")}, ${bracket!.ref}), for a drifted round`);
      await runRound(round++, block);
    }
  }
  const out = new Map<string, Series>();
  for (const [id, st] of state) out.set(id, summarize(conns, st));
  return out;
}

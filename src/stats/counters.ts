/**
 * Every counter cyclops keeps. What each way a report ends counts is declared in the outcome list
 * (src/outcome/outcomes.ts) and applied here, in `record`; /count, /metrics and client reports
 * read these fields. The request path only does `+= 1` on plain fields.
 */
import { ALL_OUTCOMES, outcomeNames, type CountField, type DropReason, type ForwardOutcome, type Outcome, type ProjectCountField } from "../outcome/outcomes.ts";

export type { DropReason, ForwardOutcome } from "../outcome/outcomes.ts";

/**
 * Client-report bookkeeping: what was discarded, by project, reason (Sentry's client-report
 * reason names) and data category, until the next report is sent.
 */
export type DiscardKey = `${number}|${string}|${string}`;

/**
 * Most projects counted one by one (metrics, client reports). With RESTRICT_API_ACCESS=false any
 * project id in a URL is taken, so without a bound a client cycling through ids would grow these
 * maps without end; past it, per-project counts of new projects are not kept (the totals are).
 */
export const MAX_TRACKED_PROJECTS = 10_000;
/** Most pending client-report entries (project × reason × category) between two reports. */
export const MAX_PENDING_DISCARDS = 50_000;

type ProjectCounts = Record<ProjectCountField, number>;

const zeroes = <K extends string>(names: readonly K[]): Record<K, number> => Object.fromEntries(names.map((n) => [n, 0])) as Record<K, number>;

export class Stats {
  /** Requests that reached an ingest route. */
  received = 0;
  /** Accepted and queued (the original's `processed`). */
  processed = 0;
  /** Reports not queued, by reason (cyclops_reports_dropped_total). */
  readonly dropped: Record<DropReason, number> = zeroes(outcomeNames("dropped"));
  /** Queued items the forwarder settled, by outcome (cyclops_forwarded_total). */
  readonly forwarded: Record<ForwardOutcome, number> = zeroes(outcomeNames("forwarded"));
  /** Upstream requests in flight now. */
  inFlight = 0;
  /** Per-project processed/ignored/delivered counts, for metrics labelled by project. */
  readonly perProject = new Map<number, ProjectCounts>();
  /** Pending client-report quantities: "project|reason|category" → count. */
  readonly discarded = new Map<DiscardKey, number>();

  /** The original's `ignored`: flood and sampling drops (the outcomes counted in /count's `ignored`). */
  get ignored(): number {
    return this.countField("ignored");
  }

  /** A /count field: the sum of the outcomes the outcome list adds to it. */
  countField(field: CountField): number {
    let sum = 0;
    for (const name of IN_COUNT_FIELD[field]) sum += this.counted(name);
    return sum;
  }

  /** How many reports ended in an outcome. */
  counted(outcome: Outcome | Outcome["name"]): number {
    const name = typeof outcome === "string" ? outcome : outcome.name;
    if (name === "accepted") return this.processed;
    return name in this.dropped ? this.dropped[name as DropReason] : this.forwarded[name as ForwardOutcome];
  }

  /**
   * Records one report's end, as its outcome declares: its counter, its project's count, and the
   * client-report discard (in `category`, the report's main item's). `projectId` is null when the
   * report never got as far as a project (rejections).
   */
  record(outcome: Outcome, projectId: number | null, category: string | null): void {
    const name = outcome.name;
    if (outcome.series === "accepted") this.processed++;
    else if (outcome.series === "dropped") this.dropped[name as DropReason]++;
    else this.forwarded[name as ForwardOutcome]++;
    if (projectId === null) return;
    if (outcome.perProject) countIn(this.project(projectId), outcome.countField as ProjectCountField);
    if (outcome.clientReport !== null && category !== null) this.discard(projectId, outcome.clientReport, category);
  }

  /** Counts not kept per project or per discard key because the bounds above were reached. */
  untracked = 0;
  /** Where counts of projects past MAX_TRACKED_PROJECTS go: written, never read. */
  private readonly overflow: ProjectCounts = { processed: 0, ignored: 0, delivered: 0 };

  project(id: number): ProjectCounts {
    let p = this.perProject.get(id);
    if (!p) {
      if (this.perProject.size >= MAX_TRACKED_PROJECTS) {
        this.untracked++;
        return this.overflow;
      }
      p = { processed: 0, ignored: 0, delivered: 0 };
      this.perProject.set(id, p);
    }
    return p;
  }

  /** Records a discard for the next client report of `projectId`. */
  discard(projectId: number, reason: string, category: string, quantity = 1): void {
    const key: DiscardKey = `${projectId}|${reason}|${category}`;
    const pending = this.discarded.get(key);
    if (pending === undefined && this.discarded.size >= MAX_PENDING_DISCARDS) {
      this.untracked++;
      return;
    }
    this.discarded.set(key, (pending ?? 0) + quantity);
  }
}

/**
 * One field of a project's counts, each by its name: written by a computed name, the same site
 * wrote two or three fields, which JavaScriptCore does on a path that marks the object for the
 * next young collection to revisit; with 5,000 projects, about 450 such objects per collection.
 */
function countIn(counts: ProjectCounts, field: ProjectCountField): void {
  if (field === "processed") counts.processed++;
  else if (field === "delivered") counts.delivered++;
  else counts.ignored++;
}

/** The outcomes behind each /count field, from the outcome list. */
const IN_COUNT_FIELD: Record<CountField, Outcome["name"][]> = (() => {
  const by: Record<CountField, Outcome["name"][]> = { processed: [], ignored: [], delivered: [], retried: [], rejected: [], expired: [] };
  for (const o of ALL_OUTCOMES) if (o.countField !== null) by[o.countField].push(o.name);
  return by;
})();

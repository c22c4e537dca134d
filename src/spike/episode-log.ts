/**
 * The log lines of spike episodes: one per start and end, up to MAX_LINES_PER_SECOND; past that
 * in a second, the rest are counted and said in one line when the second ends (`flush`, from the
 * service's tick). Many projects can start episodes in the same few seconds (5,000 projects new
 * to cyclops, each over the floor): a line each cost about 30 µs (pino's redaction, a write), and
 * 5,000 of them told an operator less than one summary with /status beside it.
 */
import type { Logger } from "../log.ts";
import type { EpisodeEvent } from "./limiter.ts";

export const MAX_LINES_PER_SECOND = 20;

export class EpisodeLog {
  private lines = 0;
  private readonly unsaid = { start: 0, end: 0, enforce: 0 };

  constructor(private readonly log: Logger) {}

  record(e: EpisodeEvent): void {
    if (this.lines >= MAX_LINES_PER_SECOND) {
      this.unsaid[e.kind]++;
      if (e.mode === "enforce") this.unsaid.enforce++;
      return;
    }
    this.lines++;
    const fields = { project: e.projectId, category: e.category, mode: e.mode, limit_per_minute: e.limitPerMinute, observed_per_minute: e.observedPerMinute };
    // In shadow nothing is dropped, so nothing calls for an operator: info, not warn.
    const level = e.mode === "shadow" ? "info" : "warn";
    if (e.kind === "start") this.log[level](fields, "spike protection: episode started");
    else
      this.log[level](
        {
          ...fields,
          [e.mode === "shadow" ? "would_drop" : "dropped"]: e.dropped,
          accepted: e.accepted,
          novel: e.novel,
          seconds: Math.round((e.at - e.startedAt) / 1000),
        },
        "spike protection: episode ended",
      );
  }

  /** The second is over: says what was not logged one by one, and opens the next second's budget. */
  flush(): void {
    this.lines = 0;
    const { start, end, enforce } = this.unsaid;
    if (start + end === 0) return;
    this.unsaid.start = this.unsaid.end = this.unsaid.enforce = 0;
    this.log[enforce > 0 ? "warn" : "info"](
      { episodes_started: start, episodes_ended: end, enforced: enforce },
      `spike protection: ${start} more episodes started and ${end} ended in the last second, past ${MAX_LINES_PER_SECOND} lines a second (/status lists the episodes in progress)`,
    );
  }
}

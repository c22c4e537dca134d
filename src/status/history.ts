/**
 * The last hour of each project, minute by minute: reports accepted (queued), delivered to
 * Sentry, and dropped by reason. Accepted and delivered are read from Stats' per-project counters
 * once a second (`sample`, so ingest pays nothing for them); drops come from the drop feed
 * (`drop`: a map lookup and an addition). Bounded: 60 minutes × the tracked projects.
 */
import { MAX_TRACKED_PROJECTS } from "../stats/counters.ts";

export const MINUTES = 60;

export interface MinuteCounts {
  accepted: number;
  delivered: number;
  dropped: number;
}

interface ProjectSeries {
  /** Per minute slot (`minute % 60`), the minute it holds, and its counts. */
  minutes: Float64Array;
  accepted: Uint32Array;
  delivered: Uint32Array;
  dropped: Uint32Array;
  /** Drops by reason over the last hour, per slot. */
  reasons: Map<string, Uint32Array>;
  /** Stats' counters at the previous sample. */
  lastProcessed: number;
  lastDelivered: number;
}

export interface ProjectHour {
  id: number;
  accepted: number;
  delivered: number;
  dropped: number;
  droppedBy: Record<string, number>;
  /** Oldest minute first. */
  series: MinuteCounts[];
}

export class History {
  private readonly projects = new Map<number, ProjectSeries>();

  constructor(private readonly now: () => number = Date.now) {}

  drop(project: number, reason: string, n = 1): void {
    const p = this.series(project);
    if (!p) return;
    const slot = this.slot(p);
    p.dropped[slot]! += n;
    let byReason = p.reasons.get(reason);
    if (!byReason) p.reasons.set(reason, (byReason = new Uint32Array(MINUTES)));
    byReason[slot]! += n;
  }

  /** Reads the per-project processed and delivered counters of Stats (called once a second). */
  sample(perProject: ReadonlyMap<number, { processed: number; delivered: number }>): void {
    // Once a second over every project (5,000 in the bench): the clock is read once, and a project
    // whose counters did not move since the last sample costs a comparison.
    const minute = Math.floor(this.now() / 60_000);
    for (const [id, counts] of perProject) {
      const p = this.series(id);
      if (!p || (counts.processed === p.lastProcessed && counts.delivered === p.lastDelivered)) continue;
      const slot = this.slot(p, minute);
      p.accepted[slot]! += counts.processed - p.lastProcessed;
      p.delivered[slot]! += counts.delivered - p.lastDelivered;
      p.lastProcessed = counts.processed;
      p.lastDelivered = counts.delivered;
    }
  }

  /** Every project seen within the hour, by id. */
  hour(): ProjectHour[] {
    const current = Math.floor(this.now() / 60_000);
    const out: ProjectHour[] = [];
    for (const [id, p] of this.projects) {
      const series: MinuteCounts[] = [];
      const total = { accepted: 0, delivered: 0, dropped: 0 };
      const droppedBy: Record<string, number> = {};
      for (let m = current - MINUTES + 1; m <= current; m++) {
        const slot = m % MINUTES;
        const live = p.minutes[slot] === m;
        const c = { accepted: live ? p.accepted[slot]! : 0, delivered: live ? p.delivered[slot]! : 0, dropped: live ? p.dropped[slot]! : 0 };
        series.push(c);
        total.accepted += c.accepted;
        total.delivered += c.delivered;
        total.dropped += c.dropped;
        if (live) for (const [reason, counts] of p.reasons) if (counts[slot]) droppedBy[reason] = (droppedBy[reason] ?? 0) + counts[slot]!;
      }
      if (total.accepted + total.delivered + total.dropped === 0) continue;
      out.push({ id, ...total, droppedBy, series });
    }
    return out.sort((a, b) => a.id - b.id);
  }

  private series(id: number): ProjectSeries | null {
    let p = this.projects.get(id);
    if (!p) {
      if (this.projects.size >= MAX_TRACKED_PROJECTS) return null;
      p = {
        minutes: new Float64Array(MINUTES).fill(-1),
        accepted: new Uint32Array(MINUTES),
        delivered: new Uint32Array(MINUTES),
        dropped: new Uint32Array(MINUTES),
        reasons: new Map(),
        // Stats start with the gateway, as this does: a project first seen here has counted from zero.
        lastProcessed: 0,
        lastDelivered: 0,
      };
      this.projects.set(id, p);
    }
    return p;
  }

  /** The slot of the current minute, cleared when it last held an older minute. */
  private slot(p: ProjectSeries, minute = Math.floor(this.now() / 60_000)): number {
    const slot = minute % MINUTES;
    if (p.minutes[slot] !== minute) {
      p.minutes[slot] = minute;
      p.accepted[slot] = 0;
      p.delivered[slot] = 0;
      p.dropped[slot] = 0;
      for (const counts of p.reasons.values()) counts[slot] = 0;
    }
    return slot;
  }
}

/**
 * One project's traffic in one lane: the learned baseline, the token bucket that enforces its
 * limit second by second, the current minute's counts and the episode, if one is on. Every method
 * takes `now` in milliseconds; `take` allocates nothing, so it can run for every report.
 *
 * The bucket refills at limit/60 per second and holds BURST_SECONDS of it: traffic under the
 * limit never empties it, and from the moment a spike empties it, what passes in any 10 s is at
 * most 10 s of the limit plus the burst. An empty bucket starts an episode; it ends once nothing
 * has been over the limit for EPISODE_QUIET_MS.
 */
import { Baseline, MINUTE_MS, type BaselineState } from "./baseline.ts";

/** Seconds of the limit the bucket holds: the burst a lane may send above its rate. */
export const BURST_SECONDS = 10;
/** An episode ends after this long with nothing over the limit. */
export const EPISODE_QUIET_MS = 60_000;
/** Most reports per lane and minute the novelty lane lets through while limited. */
export const NOVEL_PER_MINUTE = 60;
/** Per second, the weight the farm's past counts keep in the share (about 10 s of memory). */
const SHARE_DECAY = 0.9;
/** Below this decayed farm count (about 1 report a second) the split is noise: each instance takes the whole limit. */
const MIN_FARM_FOR_SHARE = 10;
/** The least share an instance enforces, so one that just joined the storm is not shut out. */
const MIN_SHARE = 0.02;
/** Longest silence folded minute by minute; a longer one is folded as this many empty minutes. */
const MAX_GAP_MINUTES = 8 * 1440;

/** What `take` decided. Numbers, so the hot path allocates nothing. */
export const Verdict = { pass: 0, novel: 1, drop: 2, wouldDrop: 3 } as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

export interface EpisodeState {
  startedAt: number;
  lastOverAt: number;
  dropped: number;
  accepted: number;
  novel: number;
}

export class Lane {
  baseline: Baseline;
  /** Reports per minute allowed now. */
  limit: number;
  private tokens: number;
  private refilledAt: number;
  private minute: number;
  private accepted = 0;
  private offered = 0;
  private novelThisMinute = 0;
  private overThisMinute = false;
  /** Reports offered in the last whole minute. */
  lastMinuteOffered = 0;

  /**
   * Farm (farm.ts): this instance's part of the farm's traffic in this lane, which scales the
   * farm-wide limit it enforces; its counts since the last sync; the farm's counts this minute.
   */
  share = 1;
  secondOffered = 0;
  secondAccepted = 0;
  private localSum = 0;
  private farmSum = 0;
  private farmOffered = 0;
  private farmAccepted = 0;
  private farmSeconds = 0;

  inEpisode = false;
  episodeStart = 0;
  lastOverAt = 0;
  /** Dropped (would-drop in shadow), accepted and novelty-passed reports of the current episode. */
  episodeDropped = 0;
  episodeAccepted = 0;
  episodeNovel = 0;

  constructor(
    readonly projectId: number,
    readonly lane: number,
    public floor: number,
    public shadow: boolean,
    now: number,
    baseline = new Baseline(),
  ) {
    this.baseline = baseline;
    this.minute = Math.floor(now / MINUTE_MS);
    this.limit = baseline.limit(this.minute, floor);
    this.tokens = this.capacity();
    this.refilledAt = now;
  }

  private capacity(): number {
    return Math.max(1, (this.limit * this.share * BURST_SECONDS) / 60);
  }

  /** Counts one report; `novel` says its error group was not seen in the past hour. */
  take(now: number, novel: boolean): Verdict {
    if (now < this.refilledAt) now = this.refilledAt;
    const minute = Math.floor(now / MINUTE_MS);
    if (minute !== this.minute) this.roll(minute);
    this.offered++;
    this.secondOffered++;
    const tokens = this.tokens + ((now - this.refilledAt) * this.limit * this.share) / MINUTE_MS;
    const cap = this.capacity();
    this.tokens = tokens > cap ? cap : tokens;
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.accepted++;
      this.secondAccepted++;
      if (this.inEpisode) this.episodeAccepted++;
      return Verdict.pass;
    }
    this.lastOverAt = now;
    this.overThisMinute = true;
    if (!this.inEpisode) this.startEpisode(now);
    if (novel && this.novelThisMinute < NOVEL_PER_MINUTE) {
      this.novelThisMinute++;
      this.accepted++;
      this.secondAccepted++;
      this.episodeAccepted++;
      this.episodeNovel++;
      return Verdict.novel;
    }
    this.episodeDropped++;
    return this.shadow ? Verdict.wouldDrop : Verdict.drop;
  }

  /** Milliseconds until the bucket holds a whole token again (0 when it does): when this lane next admits a report. */
  msToNextToken(now: number): number {
    const perMs = (this.limit * this.share) / MINUTE_MS;
    const tokens = this.tokens + Math.max(0, now - this.refilledAt) * perMs;
    return tokens >= 1 ? 0 : (1 - tokens) / perMs;
  }

  private startEpisode(now: number): void {
    this.inEpisode = true;
    this.episodeStart = now;
    this.episodeDropped = 0;
    this.episodeAccepted = 0;
    this.episodeNovel = 0;
  }

  /** True when the episode is over at `now` (nothing over the limit for EPISODE_QUIET_MS). */
  episodeOver(now: number): boolean {
    return this.inEpisode && now - this.lastOverAt >= EPISODE_QUIET_MS;
  }

  endEpisode(): void {
    this.inEpisode = false;
  }

  /** Brings the minute up to `now` without counting a report (a timer's tick). */
  advance(now: number): void {
    const minute = Math.floor(now / MINUTE_MS);
    if (minute > this.minute) this.roll(minute);
  }

  /** Folds the finished minute and any silent ones after it, then sets the new minute's limit. */
  private roll(minute: number): void {
    if (minute < this.minute) return this.rebase(minute * MINUTE_MS);
    if (this.farmSeconds > 0) {
      // The farm's minute, from the seconds of it synced so far (the last arrive after the roll).
      const scale = 60 / Math.min(60, this.farmSeconds);
      const over = this.overThisMinute || this.farmOffered > this.farmAccepted;
      this.baseline.fold(this.minute, this.farmAccepted * scale, this.farmOffered * scale, over);
    } else this.baseline.fold(this.minute, this.accepted, this.offered, this.overThisMinute);
    this.lastMinuteOffered = this.offered;
    const first = Math.max(this.minute + 1, minute - MAX_GAP_MINUTES);
    for (let m = first; m < minute; m++) this.baseline.fold(m, 0, 0, false);
    if (minute - this.minute > 1) this.lastMinuteOffered = 0;
    this.startMinute(minute);
  }

  private startMinute(minute: number): void {
    this.minute = minute;
    this.accepted = 0;
    this.offered = 0;
    this.novelThisMinute = 0;
    this.overThisMinute = false;
    this.farmOffered = 0;
    this.farmAccepted = 0;
    this.farmSeconds = 0;
    this.limit = this.baseline.limit(minute, this.floor);
    const cap = this.capacity();
    if (this.tokens > cap) this.tokens = cap;
  }

  /**
   * The clock jumped (or the process slept, or state was restored): continue from `now` without
   * reading the gap as silence. The partial minute is dropped; the baseline and an ongoing episode
   * are kept, the episode's quiet time restarting from `now`.
   */
  rebase(now: number): void {
    this.startMinute(Math.floor(now / MINUTE_MS));
    this.refilledAt = now;
    if (this.inEpisode) this.lastOverAt = now;
  }

  /**
   * One synced second of the farm: `local` is what this instance was offered since the last sync,
   * `offered` and `accepted` the whole farm's counts in `second`. The share is the ratio of
   * exponentially decayed sums (about 10 s), so a storm that lands on this instance alone moves
   * its share towards 1 within seconds, and the farm as a whole passes about one limit.
   */
  observeFarm(local: number, second: number, offered: number, accepted: number): void {
    this.localSum = this.localSum * SHARE_DECAY + local;
    this.farmSum = this.farmSum * SHARE_DECAY + offered;
    this.share = this.farmSum < MIN_FARM_FOR_SHARE ? 1 : Math.min(1, Math.max(MIN_SHARE, this.localSum / this.farmSum));
    if (Math.floor(second / 60) === this.minute) {
      this.farmOffered += offered;
      this.farmAccepted += accepted;
      this.farmSeconds++;
    }
  }

  /** Redis is unreachable: back to this instance's own limit and counts. */
  leaveFarm(): void {
    this.share = 1;
    this.localSum = 0;
    this.farmSum = 0;
    this.farmSeconds = 0;
  }

  /** Observed reports per minute: the last whole minute or this one so far, whichever is higher. */
  observedPerMinute(): number {
    return Math.max(this.lastMinuteOffered, this.offered);
  }

  episodeState(): EpisodeState | null {
    if (!this.inEpisode) return null;
    return {
      startedAt: this.episodeStart,
      lastOverAt: this.lastOverAt,
      dropped: this.episodeDropped,
      accepted: this.episodeAccepted,
      novel: this.episodeNovel,
    };
  }

  restoreEpisode(e: EpisodeState): void {
    this.inEpisode = true;
    this.episodeStart = e.startedAt;
    this.lastOverAt = e.lastOverAt;
    this.episodeDropped = e.dropped;
    this.episodeAccepted = e.accepted;
    this.episodeNovel = e.novel;
    this.tokens = 0; // a restart mid-episode opens no fresh burst
  }

  baselineState(): BaselineState {
    return this.baseline.toState();
  }
}

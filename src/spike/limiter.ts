/**
 * Spike protection: a limit per project and lane learned from that project's own traffic
 * (baseline.ts), enforced within seconds (lane.ts), with a novelty lane for new errors
 * (novelty.ts). `check` runs once per report and allocates nothing unless a lane is created or
 * an episode starts; `tick` runs from a timer (about every second) to end episodes and roll
 * minutes for lanes that went quiet. Every method takes `now`: replays drive it on their own clock.
 *
 * Clock: a step of over CLOCK_JUMP_MS between two calls (forward or back) is a clock jump, a
 * suspended process or a restart, not silence: every lane continues from the new time with its
 * baseline and episode kept (Lane.rebase). Smaller steps back are treated as no time passing.
 */
import { LANES, LANE_CATEGORIES, NO_LANE, laneOf } from "./categories.ts";
import { Baseline, type BaselineState } from "./baseline.ts";
import { EPISODE_QUIET_MS, Lane, Verdict, type EpisodeState } from "./lane.ts";
import { NoveltyLog, type GroupKey } from "./novelty.ts";

export { Verdict } from "./lane.ts";

export type SpikeMode = "off" | "shadow" | "enforce";

export interface SpikeSettings {
  mode: SpikeMode;
  /** SPIKE_MIN_PER_MINUTE: the floor of every limit, and the limit before any history. */
  floor: number;
  /** SPIKE_PROJECTS: per-project mode and floor. */
  projects?: Record<string, { mode?: SpikeMode; floor?: number }>;
}

/** An episode's start or end, as subscribers (alerts, logs) receive it. */
export interface EpisodeEvent {
  kind: "start" | "end";
  projectId: number;
  /** Lane name: error (error, default and security), transaction, … */
  category: string;
  mode: "shadow" | "enforce";
  at: number;
  startedAt: number;
  limitPerMinute: number;
  observedPerMinute: number;
  /** Dropped so far (would-drop in shadow). */
  dropped: number;
  accepted: number;
  novel: number;
}

/** An active episode, for /count and /metrics. */
export type EpisodeView = Omit<EpisodeEvent, "kind" | "at">;

/** Longest Retry-After of a spike-limited answer: an episode's quiet time. */
export const SPIKE_RETRY_AFTER_MAX_S = EPISODE_QUIET_MS / 1000;
export const CLOCK_JUMP_MS = 10 * 60_000;
const CLOCK_BACK_TOLERANCE_MS = 2_000;
/** Most projects and lanes kept (a lane is about 1 KB); reports past them are not limited (counted in `untracked`). */
export const MAX_SPIKE_PROJECTS = 10_000;
export const MAX_SPIKE_LANES = 20_000;

/** A project whose mode is off: no lanes, nothing counted. */
const OFF: Lane[] = [];

/** One lane as saved: its project, lane name, baseline and active episode. */
export type SpikeLaneState = { project: number; category: string; baseline: BaselineState; episode: EpisodeState | null };

export interface SpikeState {
  version: 1;
  savedAt: number;
  lanes: SpikeLaneState[];
}

export class SpikeLimiter {
  private readonly projects = new Map<number, Lane[]>();
  private readonly active = new Set<Lane>();
  private readonly listeners: Array<(e: EpisodeEvent) => void> = [];
  readonly novelty = new NoveltyLog();
  private clock = -Infinity;
  /** Reports of projects or lanes past MAX_SPIKE_PROJECTS / MAX_SPIKE_LANES, not limited. */
  untracked = 0;
  private laneCount = 0;
  /** Totals since start, per verdict. */
  readonly totals = { passed: 0, novel: 0, dropped: 0, wouldDropped: 0 };

  constructor(private readonly settings: SpikeSettings) {}

  /** Subscribes to episode starts and ends; returns the unsubscribe function. */
  onEpisode(listener: (e: EpisodeEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * One report of `projectId` in `category` (Sentry's name); `groupKey` is its error group (the
   * flood key) or null. Returns what to do with it: pass, novel (passed by the novelty lane), drop,
   * or wouldDrop (shadow: pass, but counted as a drop).
   */
  check(projectId: number, category: string, groupKey: GroupKey | null, now: number): Verdict {
    now = this.advanceClock(now);
    const index = laneOf(category);
    if (index === NO_LANE) return Verdict.pass;
    const lanes = this.lanesOf(projectId);
    if (lanes === OFF) return Verdict.pass;
    const lane = lanes[index] ?? this.newLane(lanes, projectId, index, now);
    if (lane === null) return Verdict.pass;
    const novel = groupKey !== null && this.novelty.observe(groupKey, now);
    if (lane.inEpisode && lane.episodeOver(now)) this.endEpisode(lane, now);
    const wasInEpisode = lane.inEpisode;
    const verdict = lane.take(now, novel);
    if (!wasInEpisode && lane.inEpisode) {
      this.active.add(lane);
      this.emit("start", lane, now);
    }
    if (verdict === Verdict.pass) this.totals.passed++;
    else if (verdict === Verdict.novel) this.totals.novel++;
    else if (verdict === Verdict.drop) this.totals.dropped++;
    else this.totals.wouldDropped++;
    return verdict;
  }

  /** Ends episodes that went quiet and rolls their minutes; call about every second. */
  tick(now: number): void {
    now = this.advanceClock(now);
    for (const lane of this.active) {
      lane.advance(now);
      if (lane.episodeOver(now)) this.endEpisode(lane, now);
    }
  }

  /** Retry-After (s) of a refused report: until its lane's bucket admits again (60/min: 1 s; 6/min: ≤ 10 s), 1 to SPIKE_RETRY_AFTER_MAX_S. */
  retryAfter(projectId: number, category: string, now: number): number {
    const lane = this.projects.get(projectId)?.[laneOf(category)];
    if (!lane) return 1;
    const seconds = Math.ceil(lane.msToNextToken(Math.max(now, this.clock)) / 1000);
    return seconds < 1 ? 1 : seconds > SPIKE_RETRY_AFTER_MAX_S ? SPIKE_RETRY_AFTER_MAX_S : seconds;
  }

  /** X-Sentry-Rate-Limits value for a limited lane of `category`: SDKs that honour it pause that lane (and only it) for `seconds`. */
  rateLimitHeader(category: string, seconds: number): string {
    const index = laneOf(category);
    return `${seconds}:${LANE_CATEGORIES[index === NO_LANE ? 0 : index]}:project:spike_protection`;
  }

  /** The current limit (reports per minute) of a project's lane, or null when it has none. */
  limitOf(projectId: number, category: string): number | null {
    const lane = this.projects.get(projectId)?.[laneOf(category)];
    return lane ? lane.limit : null;
  }

  /** Every lane, for the farm's sync. */
  forEachLane(fn: (lane: Lane) => void): void {
    for (const lanes of this.projects.values()) for (const lane of lanes) if (lane) fn(lane);
  }

  episodes(): EpisodeView[] {
    return [...this.active].map((lane) => this.view(lane));
  }

  private advanceClock(now: number): number {
    const clock = this.clock;
    if (now >= clock) {
      if (now - clock > CLOCK_JUMP_MS && clock !== -Infinity) this.rebase(now);
      this.clock = now;
      return now;
    }
    if (clock - now <= CLOCK_BACK_TOLERANCE_MS) return clock;
    this.rebase(now);
    this.clock = now;
    return now;
  }

  private rebase(now: number): void {
    for (const lanes of this.projects.values()) for (const lane of lanes) lane?.rebase(now);
  }

  private lanesOf(projectId: number): Lane[] {
    const lanes = this.projects.get(projectId);
    if (lanes !== undefined) return lanes;
    // Past the bound nothing is remembered (with RESTRICT_API_ACCESS false, ids are the client's to choose).
    if (this.projects.size >= MAX_SPIKE_PROJECTS) {
      this.untracked++;
      return OFF;
    }
    if (this.modeOf(projectId) === "off") {
      this.projects.set(projectId, OFF);
      return OFF;
    }
    const created: Lane[] = [];
    this.projects.set(projectId, created);
    return created;
  }

  private modeOf(projectId: number): SpikeMode {
    return this.settings.projects?.[String(projectId)]?.mode ?? this.settings.mode;
  }

  private floorOf(projectId: number): number {
    return Math.max(1, this.settings.projects?.[String(projectId)]?.floor ?? this.settings.floor);
  }

  private newLane(lanes: Lane[], projectId: number, index: number, now: number, baseline?: Baseline): Lane | null {
    if (this.laneCount >= MAX_SPIKE_LANES) {
      this.untracked++;
      return null;
    }
    this.laneCount++;
    const lane = new Lane(projectId, index, this.floorOf(projectId), this.modeOf(projectId) === "shadow", now, baseline);
    lanes[index] = lane;
    return lane;
  }

  private endEpisode(lane: Lane, now: number): void {
    lane.endEpisode();
    this.active.delete(lane);
    this.emit("end", lane, now);
  }

  private view(lane: Lane): EpisodeView {
    return {
      projectId: lane.projectId,
      category: LANES[lane.lane]!,
      mode: lane.shadow ? "shadow" : "enforce",
      startedAt: lane.episodeStart,
      limitPerMinute: Math.round(lane.limit * 10) / 10,
      observedPerMinute: lane.observedPerMinute(),
      dropped: lane.episodeDropped,
      accepted: lane.episodeAccepted,
      novel: lane.episodeNovel,
    };
  }

  private emit(kind: "start" | "end", lane: Lane, at: number): void {
    if (this.listeners.length === 0) return;
    const event: EpisodeEvent = { kind, at, ...this.view(lane) };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A subscriber's failure is its own; the limiter goes on.
      }
    }
  }

  /** Everything learned, for a restart (state-store.ts). The novelty memory is not kept: an hour's worth, relearned. */
  serialize(now: number): SpikeState {
    return { version: 1, savedAt: now, lanes: [...this.stateChunks(Infinity)].flat() };
  }

  /** The same, in chunks of whole projects (about `maxLanes` lanes): a store writes one per event-loop turn, so a save stalls for one chunk at most. */
  *stateChunks(maxLanes: number): Generator<SpikeLaneState[]> {
    let chunk: SpikeLaneState[] = [];
    for (const [project, list] of this.projects) {
      for (const lane of list) {
        if (lane) chunk.push({ project, category: LANES[lane.lane]!, baseline: lane.baselineState(), episode: lane.episodeState() });
      }
      if (chunk.length >= maxLanes) {
        yield chunk;
        chunk = [];
      }
    }
    if (chunk.length > 0) yield chunk;
  }

  /**
   * Restores a saved state (what `serialize` wrote; anything malformed in it is skipped, never
   * trusted). Time restarts at `now`: the downtime is not read as silence, and an episode that was
   * on goes on until its lane has been quiet for the episode's quiet time.
   */
  restore(state: unknown, now: number): number {
    if (typeof state !== "object" || state === null || (state as SpikeState).version !== 1) return 0;
    const lanesIn = (state as SpikeState).lanes;
    if (!Array.isArray(lanesIn)) return 0;
    let restored = 0;
    for (const entry of lanesIn) {
      if (typeof entry !== "object" || entry === null) continue;
      const { project, category, baseline, episode } = entry;
      if (!Number.isSafeInteger(project) || project < 0 || typeof category !== "string") continue;
      const index = (LANES as readonly string[]).indexOf(category);
      if (index < 0 || typeof baseline !== "object" || baseline === null) continue;
      const lanes = this.lanesOf(project);
      if (lanes === OFF || lanes[index] !== undefined) continue;
      const lane = this.newLane(lanes, project, index, now, Baseline.fromState(baseline));
      if (lane === null) break;
      if (typeof episode === "object" && episode !== null && Number.isFinite(episode.startedAt)) {
        const count = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0);
        lane.restoreEpisode({
          startedAt: episode.startedAt,
          lastOverAt: now,
          dropped: count(episode.dropped),
          accepted: count(episode.accepted),
          novel: count(episode.novel),
        });
        this.active.add(lane);
      }
      restored++;
    }
    this.clock = Math.max(this.clock, now);
    return restored;
  }
}

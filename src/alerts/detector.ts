/**
 * Drop episodes, from drops alone: a project whose drops for one reason reach
 * ALERT_MIN_DROPS_PER_MINUTE within a minute starts an episode; ALERT_RESOLVE_SECONDS without a
 * drop of that project and reason ends it. Exactly one start and one end per episode.
 *
 * `drop` is on the ingest path: a map lookup and a few additions, and nothing async; what the
 * episodes mean (alerts, log lines) happens in `tick`, once a second, off that path.
 * Time is passed in, so the rules are tested without waiting.
 */
import { eventTitle, TopTitles, type TitleCount } from "./titles.ts";

export interface Episode {
  /** `project|reason`. */
  key: string;
  project: number;
  reason: string;
  category: string;
  startedAt: number;
  /** Drops in the minute before it started. */
  ratePerMinute: number;
  /** Drops since it started (on this instance), those of the starting minute included. */
  dropped: number;
  lastDropAt: number;
  /** The farm's id of the episode (the one that announced it), set once claimed. */
  id: string | null;
  titles: TopTitles;
}

export type EpisodeEvent = { kind: "start"; episode: Episode; top: TitleCount[] } | { kind: "quiet"; episode: Episode; top: TitleCount[] };

/** Most project × reason pairs followed at once; drops of further pairs are not followed. */
export const MAX_TRACKS = 10_000;

interface Track {
  /** Drops per second over the last minute: `counts[s % 60]` holds second `stamps[s % 60]`. */
  counts: Uint32Array;
  stamps: Float64Array;
  lastDropAt: number;
  category: string;
  titles: TopTitles;
  episode: Episode | null;
}

/**
 * Past this many drops of a pair in one second, one drop in TITLE_SAMPLE (at random, so a periodic pattern cannot hide a title) has its title read
 * (counted TITLE_SAMPLE times): reading a title costs about as much as the rest of `drop`.
 */
const TITLES_IN_FULL = 64;
const TITLE_SAMPLE = 8;

export class EpisodeDetector {
  /** By reason (a handful of constant strings), then project: no key string built per drop. */
  private readonly byReason = new Map<string, Map<number, Track>>();
  private size = 0;
  private readonly starting: Episode[] = [];

  constructor(
    private minPerMinute: number,
    private resolveMs: number,
  ) {}

  /** A report of `project` was dropped for `reason`; `event` (the parsed error event, if any) names it. */
  drop(project: number, reason: string, category: string, event: Record<string, unknown> | null, now: number, n = 1): void {
    let projects = this.byReason.get(reason);
    if (!projects) this.byReason.set(reason, (projects = new Map()));
    let track = projects.get(project);
    if (!track) {
      if (this.size >= MAX_TRACKS) return;
      track = { counts: new Uint32Array(60), stamps: new Float64Array(60).fill(-1), lastDropAt: now, category, titles: new TopTitles(), episode: null };
      projects.set(project, track);
      this.size++;
    }
    const second = Math.floor(now / 1000);
    const slot = second % 60;
    if (track.stamps[slot] !== second) {
      track.stamps[slot] = second;
      track.counts[slot] = 0;
    }
    const inSecond = (track.counts[slot]! += n);
    track.lastDropAt = now;
    if (event && (inSecond <= TITLES_IN_FULL || Math.random() * TITLE_SAMPLE < 1)) {
      const title = eventTitle(event);
      if (title) track.titles.add(title, inSecond <= TITLES_IN_FULL ? n : TITLE_SAMPLE);
    }
    if (track.episode) {
      track.episode.dropped += n;
      track.episode.lastDropAt = now;
      return;
    }
    const rate = lastMinute(track, second);
    if (rate < this.minPerMinute) return;
    track.episode = {
      key: `${project}|${reason}`,
      project,
      reason,
      category,
      startedAt: now,
      ratePerMinute: rate,
      dropped: rate,
      lastDropAt: now,
      id: null,
      titles: track.titles,
    };
    this.starting.push(track.episode);
  }

  /**
   * Episodes that started since the last tick, and those quiet for ALERT_RESOLVE_SECONDS (ended
   * here: the caller announces the end, or waits for the farm, see farm.ts). Forgets pairs
   * quiet for a minute outside any episode, so memory follows only what drops now.
   */
  tick(now: number): EpisodeEvent[] {
    const events: EpisodeEvent[] = this.starting.splice(0).map((episode) => ({ kind: "start" as const, episode, top: episode.titles.top() }));
    for (const projects of this.byReason.values()) {
      for (const [project, track] of projects) {
        if (track.episode ? now - track.lastDropAt < this.resolveMs : now - track.lastDropAt < 60_000) continue;
        if (track.episode) events.push({ kind: "quiet", episode: track.episode, top: track.titles.top() });
        projects.delete(project);
        this.size--;
      }
    }
    return events;
  }

  /** Episodes in progress here, newest first. */
  active(): Episode[] {
    const out: Episode[] = [];
    for (const projects of this.byReason.values()) for (const track of projects.values()) if (track.episode) out.push(track.episode);
    return out.sort((a, b) => b.startedAt - a.startedAt);
  }

  /** Drops of `project` in the last minute, by reason. */
  recent(project: number, now: number): Record<string, number> {
    const out: Record<string, number> = {};
    const second = Math.floor(now / 1000);
    for (const [reason, projects] of this.byReason) {
      const track = projects.get(project);
      if (track) out[reason] = lastMinute(track, second);
    }
    return out;
  }
}

function lastMinute(track: Track, second: number): number {
  let sum = 0;
  for (let i = 0; i < 60; i++) if (track.stamps[i]! > second - 60) sum += track.counts[i]!;
  return sum;
}

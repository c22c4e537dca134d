/**
 * Replays of synthetic traffic through a SpikeLimiter on an injected clock: per project, a
 * per-minute rate with day/night ×5 (smooth, lowest at 04:00), weekends ×0.5 and ±30 % uniform
 * noise, reports spread evenly over each minute, error groups drawn from a fixed pool. Nothing
 * waits: 7 days are replayed in well under a few seconds of CPU.
 */
import { SpikeLimiter, Verdict, type EpisodeEvent, type SpikeSettings } from "../../src/spike/limiter.ts";

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** Monday 2026-01-05 00:00 UTC: replays start on a Monday. */
export const MONDAY = Date.UTC(2026, 0, 5);

/** mulberry32: a small deterministic PRNG, so a replay is the same every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seasonal shape: 1 at 04:00 to 5 at 16:00, halved on Saturdays and Sundays. */
export function season(t: number): number {
  const hourOfDay = (t % DAY) / HOUR;
  const dayNight = 3 - 2 * Math.cos((2 * Math.PI * (hourOfDay - 4)) / 24);
  const weekday = Math.floor((t - MONDAY) / DAY) % 7; // 0 = Monday
  return dayNight * (weekday >= 5 ? 0.5 : 1);
}

export interface ProjectTraffic {
  id: number;
  /** Reports per minute at the seasonal low. */
  base: number;
  category?: string;
  /** Multiplies the rate in [from, to). */
  step?: { from: number; to: number; factor: number };
}

export interface Tally {
  pass: number;
  novel: number;
  drop: number;
  wouldDrop: number;
}

export interface ReplayResult {
  events: EpisodeEvent[];
  tally: Map<number, Tally>;
  /** Limit of each project's lane at the start of each minute: project → minute index → limit. */
  limits: Map<number, Map<number, number>>;
  /** First drop or would-drop per project. */
  firstLimited: Map<number, number>;
}

export function replay(limiter: SpikeLimiter, projects: ProjectTraffic[], from: number, to: number, seed = 1): ReplayResult {
  const random = prng(seed);
  const events: EpisodeEvent[] = [];
  limiter.onEpisode((e) => events.push(e));
  const tally = new Map<number, Tally>(projects.map((p) => [p.id, { pass: 0, novel: 0, drop: 0, wouldDrop: 0 }]));
  const limits = new Map<number, Map<number, number>>(projects.map((p) => [p.id, new Map()]));
  const firstLimited = new Map<number, number>();
  const groups = projects.map((p) => Array.from({ length: 20 }, (_, g) => `${p.id}:group-${g}`));
  const batch: Array<{ now: number; p: number }> = [];
  for (let minuteStart = from; minuteStart < to; minuteStart += MINUTE) {
    limiter.tick(minuteStart);
    // This minute's reports of every project, in time order (the limiter reads time as a clock).
    batch.length = 0;
    projects.forEach((p, pi) => {
      let rate = p.base * season(minuteStart) * (0.7 + 0.6 * random());
      if (p.step && minuteStart >= p.step.from && minuteStart < p.step.to) rate *= p.step.factor;
      const n = Math.round(rate);
      for (let i = 0; i < n; i++) batch.push({ now: minuteStart + Math.floor(((i + 0.5) / n) * MINUTE), p: pi });
    });
    batch.sort((a, b) => a.now - b.now);
    const firstOfMinute = new Set<number>();
    for (const { now, p: pi } of batch) {
      const p = projects[pi]!;
      const t = tally.get(p.id)!;
      const category = p.category ?? "error";
      const key = category === "error" ? groups[pi]![Math.floor(random() * 20)]! : null;
      const v = limiter.check(p.id, category, key, now);
      if (!firstOfMinute.has(pi)) {
        firstOfMinute.add(pi);
        limits.get(p.id)!.set(minuteStart / MINUTE, limiter.limitOf(p.id, category)!);
      }
      if (v === Verdict.pass) t.pass++;
      else if (v === Verdict.novel) t.novel++;
      else {
        if (v === Verdict.drop) t.drop++;
        else t.wouldDrop++;
        if (!firstLimited.has(p.id)) firstLimited.set(p.id, now);
      }
    }
  }
  return { events, tally, limits, firstLimited };
}

export const settings = (mode: SpikeSettings["mode"] = "enforce", floor = 60): SpikeSettings => ({ mode, floor });

/**
 * What one project's traffic in one lane normally is, learned minute by minute, and the limit it
 * implies. Pure: every method takes the minute it is about, nothing reads a clock.
 *
 * - Level: two exponentially weighted means of the per-minute count, fast (1 h) and slow (1 day).
 *   Their first samples are plain averages (weight 1/n), so a new lane learns from its first minute.
 * - Season: once 7 days of history exist, an hour-of-week profile (168 hourly means, each half last
 *   week's hour and half the older ones) replaces the slow mean, so nights get tighter limits than
 *   days without a weekday rush being mistaken for a spike.
 * - Variability: the exponentially weighted spread of each minute around the fast level, as a
 *   share of that level (cv). The multiplier is 1 + 5·cv clamped to 3–6, as Sentry bounds its own.
 *
 * What is learned from (docs/SPIKE-PROTECTION.md): during the first hour, everything offered (there
 * is nothing yet to tell a spike from normal); after it, accepted traffic only, and a minute spent
 * over the limit teaches at 1/24 of the usual weight. Dropped traffic never teaches, so a spike
 * cannot raise its own limit, and a lasting rise is still learned, over about a day.
 */

export const MINUTE_MS = 60_000;
const HOURS_PER_WEEK = 168;
const FAST_MINUTES = 60;
const SLOW_MINUTES = 1440;
export const WARMUP_MINUTES = 60;
export const SEASONAL_AFTER_MINUTES = 7 * 1440;
/** Weight of the newest week in an hour-of-week slot. */
const PROFILE_NEWEST_WEEK = 0.5;
/** Weight of a minute spent over the limit, relative to a normal one. */
export const EPISODE_MINUTE_WEIGHT = 1 / 24;
/** Normal minutes an hour needs before it may fill an empty profile slot on its own. */
const MIN_MINUTES_TO_SEED_SLOT = 30;
export const MIN_MULTIPLIER = 3;
export const MAX_MULTIPLIER = 6;
const UNKNOWN = -1;

export interface BaselineState {
  minutes: number;
  fast: number;
  slow: number;
  variance: number;
  hourSum: number;
  hourWeight: number;
  /** The hour-of-week profile: 168 float32 as base64 (compact and fast to write), or, as older versions saved it, an array. */
  profile: string | number[];
}

export const hourOfWeek = (minute: number): number => Math.floor(minute / 60) % HOURS_PER_WEEK;

export class Baseline {
  /** Minutes of history folded in. */
  minutes = 0;
  fast = 0;
  slow = 0;
  variance = 0;
  private hourSum = 0;
  private hourWeight = 0;
  /** Mean count per minute for each hour of the week; UNKNOWN until learned. */
  private readonly profile = new Float32Array(HOURS_PER_WEEK).fill(UNKNOWN); // 32 bits: a lane is ~1 KB

  /**
   * Folds one finished minute: `accepted` passed the limit, `offered` is everything that came
   * (accepted + dropped), `overLimit` says the minute was part of an episode.
   */
  fold(minute: number, accepted: number, offered: number, overLimit: boolean): void {
    const warm = this.minutes < WARMUP_MINUTES;
    const x = warm ? offered : accepted;
    const weight = warm || !overLimit ? 1 : EPISODE_MINUTE_WEIGHT;
    const n = ++this.minutes;
    if (n > 1 && weight === 1) {
      const residual = x - this.fast;
      this.variance += Math.max(1 / n, 1 / SLOW_MINUTES) * (residual * residual - this.variance);
    }
    this.fast += weight * Math.max(1 / n, 1 / FAST_MINUTES) * (x - this.fast);
    this.slow += weight * Math.max(1 / n, 1 / SLOW_MINUTES) * (x - this.slow);
    this.hourSum += weight * x;
    this.hourWeight += weight;
    if (minute % 60 === 59) this.closeHour(hourOfWeek(minute));
  }

  private closeHour(slot: number): void {
    const mean = this.hourWeight > 0 ? this.hourSum / this.hourWeight : 0;
    const known = this.profile[slot]! !== UNKNOWN;
    if (known) this.profile[slot]! += PROFILE_NEWEST_WEEK * (this.hourWeight / 60) * (mean - this.profile[slot]!);
    else if (this.hourWeight >= MIN_MINUTES_TO_SEED_SLOT) this.profile[slot] = mean;
    this.hourSum = 0;
    this.hourWeight = 0;
  }

  get seasonal(): boolean {
    return this.minutes >= SEASONAL_AFTER_MINUTES;
  }

  /** Expected count in `minute`: the seasonal slot (or the next hour's, whichever is higher) once 7 days are known, else the slow mean; never under the fast level. */
  expected(minute: number): number {
    if (!this.seasonal) return Math.max(this.fast, this.slow);
    const slot = hourOfWeek(minute);
    const season = Math.max(this.profile[slot]!, this.profile[(slot + 1) % HOURS_PER_WEEK]!);
    return Math.max(this.fast, season);
  }

  multiplier(): number {
    const cv = Math.sqrt(this.variance) / Math.max(this.fast, 1);
    return Math.min(MAX_MULTIPLIER, Math.max(MIN_MULTIPLIER, 1 + 5 * cv));
  }

  /** Reports per minute allowed in `minute`: the learned level times the multiplier, never under `floor`. */
  limit(minute: number, floor: number): number {
    if (this.minutes === 0) return floor;
    return Math.max(floor, this.multiplier() * this.expected(minute));
  }

  toState(): BaselineState {
    return {
      minutes: this.minutes,
      fast: this.fast,
      slow: this.slow,
      variance: this.variance,
      hourSum: this.hourSum,
      hourWeight: this.hourWeight,
      profile: Buffer.from(this.profile.buffer, this.profile.byteOffset, this.profile.byteLength).toString("base64"),
    };
  }

  /** Restores a saved state; values that are not finite numbers leave the field as learned so far. */
  static fromState(s: Partial<BaselineState>): Baseline {
    const b = new Baseline();
    const num = (v: unknown, min = 0) => (typeof v === "number" && Number.isFinite(v) && v >= min ? v : null);
    b.minutes = Math.floor(num(s.minutes) ?? 0);
    b.fast = num(s.fast) ?? 0;
    b.slow = num(s.slow) ?? 0;
    b.variance = num(s.variance) ?? 0;
    b.hourSum = num(s.hourSum) ?? 0;
    b.hourWeight = num(s.hourWeight) ?? 0;
    let values: ArrayLike<unknown> | null = Array.isArray(s.profile) ? s.profile : null;
    if (typeof s.profile === "string") {
      const bytes = Buffer.from(s.profile, "base64");
      if (bytes.length === HOURS_PER_WEEK * 4) values = new Float32Array(new Uint8Array(bytes).buffer);
    }
    if (values !== null && values.length === HOURS_PER_WEEK) {
      for (let i = 0; i < HOURS_PER_WEEK; i++) b.profile[i] = num(values[i], UNKNOWN) ?? UNKNOWN;
    }
    return b;
  }
}

/**
 * The novelty lane's memory: which error groups (flood keys) were seen lately, so the first report
 * of a group not seen in the past hour passes even while its project is limited. Two generations
 * of an hour each: a key is "seen" while it is in either, so every key seen in the past hour (and
 * some seen up to two hours ago) counts as seen. Bounded: once a generation holds `maxKeys`, keys
 * it does not hold are no longer called new, so a storm of distinct errors cannot grow it or use
 * it as a way around the limit.
 */
/** An error group: the flood cut's key (a 53-bit hash), or any string naming one. */
export type GroupKey = number | string;

export const NOVELTY_WINDOW_MS = 3_600_000;
export const NOVELTY_MAX_KEYS = 50_000;

export class NoveltyLog {
  private current = new Map<GroupKey, number>();
  private previous = new Map<GroupKey, number>();
  private rotatedAt = -Infinity;

  constructor(private readonly maxKeys = NOVELTY_MAX_KEYS) {}

  /** Records `key` as seen at `now`; true when it had not been seen in the past hour. */
  observe(key: GroupKey, now: number): boolean {
    if (now - this.rotatedAt >= NOVELTY_WINDOW_MS || now < this.rotatedAt) this.rotate(now);
    if (this.current.has(key)) return false;
    const full = this.current.size >= this.maxKeys;
    if (!full) this.current.set(key, now);
    return !full && !this.previous.has(key);
  }

  private rotate(now: number): void {
    // A jump of over two windows (or backwards) leaves nothing recent to remember.
    const stale = now - this.rotatedAt >= 2 * NOVELTY_WINDOW_MS || now < this.rotatedAt;
    this.previous = stale ? new Map() : this.current;
    this.current = new Map();
    this.rotatedAt = now;
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}

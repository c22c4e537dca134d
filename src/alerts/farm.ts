/**
 * Exactly one start and one resolve per episode across a farm. Each instance detects episodes
 * from its own drops; when the flood counters are shared (Redis), the instances agree through
 * a few keys so only the first to see an episode announces its start and only the first to see
 * the whole farm quiet announces its end. Alone (memory counters) every instance announces.
 *
 * The farm's keys (one episode key, its last-drop time and drop count, and a resolve marker),
 * each with an expiry, so nothing is left behind when an instance dies:
 *   ep:<project|reason>     the episode id; SET NX by the first instance (it announces the start)
 *   last:<id>, count:<id>   when any instance last saw a drop of it, and how many all saw
 *   resolved:<id>           SET NX by the instance that announces the end
 * Farm members are a sorted set of instance ids scored by their last heartbeat.
 */

export interface FarmMember {
  id: string;
  seenAt: number;
}

export interface FarmEpisodes {
  readonly shared: boolean;
  /** This instance saw `key` start: the farm's episode id, and whether this instance announces it. */
  claimStart(key: string, proposedId: string, now: number): Promise<{ id: string; announce: boolean }>;
  /** This instance saw `n` drops of the episode since the last call: keeps the farm's episode open. */
  seen(key: string, id: string, n: number, now: number): Promise<void>;
  /** This instance is quiet: "announce" (with the farm's drop count), "done" (another announced), or "wait" (others still drop). */
  claimResolve(key: string, id: string, quietMs: number, now: number): Promise<{ verdict: "announce" | "done" | "wait"; dropped: number | null }>;
  /** Heartbeat of this instance; returns the members seen within `withinMs`. */
  members(self: string, now: number, withinMs: number): Promise<FarmMember[]>;
}

/** One instance on its own: it announces everything it sees. */
export class SoloFarm implements FarmEpisodes {
  readonly shared = false;
  async claimStart(_key: string, proposedId: string) {
    return { id: proposedId, announce: true };
  }
  async seen() {}
  async claimResolve() {
    return { verdict: "announce" as const, dropped: null };
  }
  async members(self: string, now: number) {
    return [{ id: self, seenAt: now }];
  }
}

/** The few commands of ioredis this needs, so any client (or a cluster client) plugs in. */
export interface RedisLike {
  set(key: string, value: string, px: "PX", ms: number, nx: "NX"): Promise<"OK" | null>;
  set(key: string, value: string, px: "PX", ms: number): Promise<"OK" | null>;
  get(key: string): Promise<string | null>;
  del(key: string): Promise<number>;
  incrby(key: string, n: number): Promise<number>;
  pexpire(key: string, ms: number): Promise<number>;
  zadd(key: string, score: number, member: string): Promise<number | string>;
  zremrangebyscore(key: string, min: number | string, max: number | string): Promise<number>;
  zrangebyscore(key: string, min: number | string, max: number | string, withScores: "WITHSCORES"): Promise<string[]>;
}

/** An episode's keys outlive its quiet time by this, so a slow instance still finds them. */
const KEEP_MS = 10 * 60_000;

export class RedisFarm implements FarmEpisodes {
  readonly shared = true;
  private readonly base: string;

  constructor(
    private readonly redis: RedisLike,
    prefix: string,
    private readonly resolveMs: number,
  ) {
    this.base = `{${prefix}}:alerts:`;
  }

  private get ttl(): number {
    return this.resolveMs + KEEP_MS;
  }

  async claimStart(key: string, proposedId: string, now: number) {
    for (let i = 0; i < 3; i++) {
      if ((await this.redis.set(`${this.base}ep:${key}`, proposedId, "PX", this.ttl, "NX")) === "OK") {
        await this.redis.set(`${this.base}last:${proposedId}`, String(now), "PX", this.ttl);
        return { id: proposedId, announce: true };
      }
      const id = await this.redis.get(`${this.base}ep:${key}`);
      if (id !== null) return { id, announce: false };
    }
    return { id: proposedId, announce: true };
  }

  async seen(key: string, id: string, n: number, now: number) {
    await Promise.all([
      this.redis.set(`${this.base}last:${id}`, String(now), "PX", this.ttl),
      this.redis.incrby(`${this.base}count:${id}`, n).then(() => this.redis.pexpire(`${this.base}count:${id}`, this.ttl)),
      this.redis.pexpire(`${this.base}ep:${key}`, this.ttl),
    ]);
  }

  async claimResolve(key: string, id: string, quietMs: number, now: number) {
    const last = Number(await this.redis.get(`${this.base}last:${id}`));
    if (last > 0 && now - last < quietMs) return { verdict: "wait" as const, dropped: null };
    if ((await this.redis.set(`${this.base}resolved:${id}`, "1", "PX", this.ttl, "NX")) !== "OK") return { verdict: "done" as const, dropped: null };
    const dropped = Number(await this.redis.get(`${this.base}count:${id}`)) || null;
    // A new episode of the same project and reason may start from here on.
    if ((await this.redis.get(`${this.base}ep:${key}`)) === id) await this.redis.del(`${this.base}ep:${key}`);
    return { verdict: "announce" as const, dropped };
  }

  async members(self: string, now: number, withinMs: number) {
    const set = `${this.base}members`;
    await this.redis.zadd(set, now, self);
    await this.redis.zremrangebyscore(set, "-inf", now - withinMs);
    await this.redis.pexpire(set, withinMs * 2);
    const flat = await this.redis.zrangebyscore(set, now - withinMs, "+inf", "WITHSCORES");
    const out: FarmMember[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, seenAt: Number(flat[i + 1]) });
    return out;
  }
}

/**
 * A farm's spike protection: one limit and one baseline per project and lane for all instances
 * sharing a Redis. Every second each instance adds what it was offered and accepted per lane to
 * a hash of that second, and reads the hash of two seconds before (complete by then, as every
 * instance syncs each second). From those farm counts each lane learns the farm's baseline and
 * its own share of the farm's traffic; it enforces the farm's limit × its share. Decisions stay
 * local (no Redis on a report's path); a storm that lands on one instance moves that instance's
 * share to 1 within seconds, so the farm passes about one limit wherever the storm lands.
 *
 * Redis down: every lane leaves the farm (share 1, its own counts), so each instance limits on
 * its own: never no limits, never refusing everything. It rejoins at the next sync that works.
 */
import type { Redis } from "ioredis";
import { spikeSecondKey } from "../redis/keys.ts";
import type { Lane } from "./lane.ts";
import type { SpikeLimiter } from "./limiter.ts";

/** Seconds a second's hash is kept: long enough for every instance to read it. */
const SECOND_TTL_S = 30;
/** The second read at second s: s − READ_LAG_S, which every instance has written by then. */
const READ_LAG_S = 2;

export class FarmSync {
  private syncing = false;
  /** Whether the last sync reached Redis; null before the first. */
  up: boolean | null = null;

  constructor(
    private readonly limiter: SpikeLimiter,
    private readonly redis: Pick<Redis, "pipeline">,
    private readonly prefix: string,
    /** Called when the farm becomes reachable or unreachable (for one log line per change). */
    private readonly onChange: (up: boolean, error: string | null) => void = () => {},
  ) {}

  /** One second's exchange; a sync still in flight makes this one a no-op. Never rejects. */
  async sync(now: number): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    const second = Math.floor(now / 1000);
    const write = spikeSecondKey(this.prefix, second);
    const pipeline = this.redis.pipeline();
    const local: Array<[Lane, string, number]> = [];
    this.limiter.forEachLane((lane) => {
      lane.advance(now);
      const field = `${lane.projectId}:${lane.lane}`;
      const offered = lane.secondOffered;
      const accepted = lane.secondAccepted;
      lane.secondOffered = 0;
      lane.secondAccepted = 0;
      if (offered > 0) pipeline.hincrby(write, `${field}:o`, offered);
      if (accepted > 0) pipeline.hincrby(write, `${field}:a`, accepted);
      local.push([lane, field, offered]);
    });
    pipeline.expire(write, SECOND_TTL_S);
    pipeline.hgetall(spikeSecondKey(this.prefix, second - READ_LAG_S));
    try {
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([e]) => e !== null);
      if (failed || results.length === 0) throw failed?.[0] ?? new Error("no reply");
      const farm = (results[results.length - 1]![1] ?? {}) as Record<string, string>;
      for (const [lane, field, offered] of local) {
        lane.observeFarm(offered, second - READ_LAG_S, Number(farm[`${field}:o`] ?? 0), Number(farm[`${field}:a`] ?? 0));
      }
      this.changed(true, null);
    } catch (e) {
      for (const [lane] of local) lane.leaveFarm();
      this.changed(false, (e as Error).message);
    } finally {
      this.syncing = false;
    }
  }

  private changed(up: boolean, error: string | null): void {
    if (this.up === up) return;
    this.up = up;
    this.onChange(up, error);
  }
}

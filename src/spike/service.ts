/**
 * Spike protection as the gateway runs it: the limiter built from the configuration, its state
 * restored at start and saved every SAVE_INTERVAL_MS and at stop, a tick every second that ends
 * quiet episodes, and a log line per episode start and end (warn in enforce, info in shadow; past
 * 20 a second, one line says how many more: episode-log.ts).
 * Episode events are also offered to any subscriber (`onEpisode`), e.g. alerts.
 */
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import { EpisodeLog } from "./episode-log.ts";
import { FarmSync } from "./farm.ts";
import { SpikeLimiter, type EpisodeEvent, type SpikeSettings } from "./limiter.ts";
import type { SpikeStateStore } from "./state-store.ts";

const TICK_MS = 1_000;
const SAVE_INTERVAL_MS = 60_000;
/** Lanes serialized per event-loop turn while saving: at about 20 µs a lane, a few ms of stall at most. */
const SAVE_CHUNK_LANES = 200;

type SpikeConfig = Pick<Config, "SPIKE_PROTECTION" | "SPIKE_MIN_PER_MINUTE" | "SPIKE_PROJECTS">;

export function spikeSettings(config: SpikeConfig): SpikeSettings {
  const projects: NonNullable<SpikeSettings["projects"]> = {};
  for (const [id, o] of Object.entries(config.SPIKE_PROJECTS)) projects[id] = { mode: o.SPIKE_PROTECTION, floor: o.SPIKE_MIN_PER_MINUTE };
  return { mode: config.SPIKE_PROTECTION, floor: config.SPIKE_MIN_PER_MINUTE, projects };
}

/** True when no project can be limited or counted: the gateway then skips the check entirely. */
export function spikeOff(config: SpikeConfig): boolean {
  return config.SPIKE_PROTECTION === "off" && Object.values(config.SPIKE_PROJECTS).every((o) => (o.SPIKE_PROTECTION ?? "off") === "off");
}

export interface SpikeProtectionOptions {
  log: Logger;
  /** Where learned limits are kept across restarts (state-store.ts: stateStoreFor); none when absent. */
  store?: SpikeStateStore | null;
  /** A farm's Redis (farm.ts): one limit and baseline per project for every instance on it; none when absent. */
  farm?: { redis: ConstructorParameters<typeof FarmSync>[1]; prefix: string };
  now?: () => number;
}

export class SpikeProtection {
  readonly limiter: SpikeLimiter;
  private readonly store: SpikeStateStore | null;
  private readonly log: Logger;
  private readonly now: () => number;
  private timers: ReturnType<typeof setInterval>[] = [];
  private saving: Promise<void> | null = null;
  private readonly farm: FarmSync | null;
  private readonly episodeLog: EpisodeLog;

  constructor(config: Config, opts: SpikeProtectionOptions) {
    this.limiter = new SpikeLimiter(spikeSettings(config));
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.store = opts.store ?? null;
    this.episodeLog = new EpisodeLog(this.log);
    this.limiter.onEpisode((e) => this.episodeLog.record(e));
    this.farm = opts.farm
      ? new FarmSync(this.limiter, opts.farm.redis, opts.farm.prefix, (up, error) => {
          if (up) this.log.info({}, "spike protection: limits shared by the farm through Redis");
          else this.log.error({}, `spike protection: Redis unreachable, each instance limits on its own: ${error}`);
        })
      : null;
  }

  /** Subscribes to episode starts and ends (`EpisodeEvent`); returns the unsubscribe function. */
  onEpisode(listener: (e: EpisodeEvent) => void): () => void {
    return this.limiter.onEpisode(listener);
  }

  /** Restores the saved state (awaited, so no report is checked before it), then ticks and saves. */
  async start(): Promise<void> {
    await this.restore();
    const tick = setInterval(() => {
      const now = this.now();
      this.limiter.tick(now);
      this.episodeLog.flush();
      void this.farm?.sync(now);
    }, TICK_MS);
    const save = setInterval(() => void this.save(), SAVE_INTERVAL_MS);
    tick.unref?.();
    save.unref?.();
    this.timers = [tick, save];
  }

  /** Stops ticking and saves once more, after any save still in flight. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.saving;
    await this.save();
    try {
      this.store?.close();
    } catch {
      // closing a store that failed to open has nothing to release
    }
  }

  private async restore(): Promise<void> {
    if (!this.store) return;
    try {
      const state = await this.store.load();
      if (state === null) return;
      const lanes = this.limiter.restore(state, this.now());
      this.log.info({ lanes, where: this.store.where }, "spike protection: learned limits restored");
    } catch (e) {
      this.log.error({ where: this.store.where }, `spike protection: saved state not read, limits are relearned: ${(e as Error).message}`);
    }
  }

  /** Saves the learned state, a chunk of lanes per event-loop turn; a save in flight is not doubled. Never rejects. */
  save(): Promise<void> {
    const store = this.store;
    if (!store) return Promise.resolve();
    this.saving ??= store
      .save(this.now(), this.limiter.stateChunks(SAVE_CHUNK_LANES))
      .catch((e: Error) => this.log.error({ where: store.where }, `spike protection: state not saved: ${e.message}`))
      .finally(() => {
        this.saving = null;
      });
    return this.saving;
  }
}

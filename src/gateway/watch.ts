/**
 * Puts the seeing and hearing together for one gateway: the drop feed (alerts' episodes and the
 * hour's history), a look at the gateway's state once a second (history, log lines, the farm's
 * members), and the status page's sources. The gateway calls `onDrop` for each dropped report,
 * mounts `/status` with `mount`, and `start`s and `stop`s it with itself.
 */
import { hostname } from "node:os";
import type { Hono } from "hono";
import { Alerts, type UpstreamState } from "../alerts/alerts.ts";
import { RedisFarm, type FarmMember, type RedisLike } from "../alerts/farm.ts";
import type { Config } from "../config/schema.ts";
import type { KeyRegistry } from "../keys/registry.ts";
import type { Logger } from "../log.ts";
import type { Stats } from "../stats/counters.ts";
import type { LatencyWindow } from "../stats/latency.ts";
import type { Queue } from "../storage/queue.ts";
import { History } from "../status/history.ts";
import { Narrator } from "../status/narrator.ts";
import { mountStatus } from "../status/routes.ts";
import { statusSnapshot, type SpikeEpisodeView, type StatusSnapshot } from "../status/snapshot.ts";

/** What of the forwarder the page and the outage alerts read. */
export interface UpstreamView {
  state(): { upstream: UpstreamState };
  rateLimitFor(projectId: number, category: string): { retryAfter: number } | null;
}

export interface WatchParts {
  config: Config;
  log: Logger;
  stats: Stats;
  queue: Queue;
  keys: KeyRegistry;
  latency: LatencyWindow;
  upstream: UpstreamView;
  /** A Redis client of the flood counters, when they are in Redis: the farm agrees on episodes through it. */
  redis?: RedisLike | null;
  now?: () => number;
}

/** A member not seen for this long has left the farm. */
const MEMBER_TTL_MS = 15_000;

export class GatewayWatch {
  readonly alerts: Alerts;
  readonly history: History;
  /** How the page, the alerts and the farm name this instance: host:port once listening. */
  private name = `${hostname()}/${process.pid}`;
  private readonly narrator: Narrator;
  private readonly now: () => number;
  private timer: ReturnType<typeof setInterval> | null = null;
  private members: FarmMember[] | null = null;
  private queueBytes = 0;
  private nonEmptySince: number | null = null;
  private looking = false;
  /** Spike protection's episodes in progress, by project and category. */
  private readonly spikes = new Map<string, SpikeEpisodeView>();

  constructor(private readonly p: WatchParts) {
    this.now = p.now ?? Date.now;
    const farm = p.redis ? new RedisFarm(p.redis, p.config.REDIS_KEY_PREFIX, p.config.ALERT_RESOLVE_SECONDS * 1000) : undefined;
    this.alerts = new Alerts({ config: p.config, log: p.log, instance: () => this.name, farm, upstream: () => p.upstream.state().upstream, now: this.now });
    this.history = new History(this.now);
    this.narrator = new Narrator(p.log, p.stats, this.now());
  }

  /** A report was dropped (on the ingest path: synchronous, a few map lookups). */
  readonly onDrop = (project: number, reason: string, category: string, event: Record<string, unknown> | null = null): void => {
    this.alerts.drop(project, reason, category, event);
    this.history.drop(project, reason);
  };

  /** Before the listener opens: warn when no key can ever be loaded. */
  warnIfNoKeys(): void {
    const c = this.p.config;
    if (c.RESTRICT_API_ACCESS && c.PROJECT_KEYS.length === 0 && c.DB_BACKEND === "none") {
      this.p.log.warn({}, "no project keys configured (PROJECT_KEYS is empty and DB_BACKEND is none): every report will be refused with 403");
      this.narrator.noKeysWarnedAtStart();
    }
  }

  /**
   * Spike protection's episode hook (src/spike's onEpisode): the page lists its episodes. Its
   * drops reach the alerts like every other drop, through admission's onDropped.
   */
  readonly spikeEpisode = (e: SpikeEpisodeView & { kind: "start" | "end" }): void => {
    const key = `${e.projectId}|${e.category}`;
    if (e.kind === "end") this.spikes.delete(key);
    else if (this.spikes.size < 10_000) this.spikes.set(key, e);
  };

  mount(app: Hono): void {
    mountStatus(app, this.p.config.STATS_TOKEN, () => this.snapshot());
  }

  /** The listener is open: the instance is known by its host and port from now on. */
  start(port: number): void {
    this.name = `${hostname()}:${port}`;
    this.alerts.start();
    this.timer ??= setInterval(() => void this.look(), 1000);
  }

  async stop(graceMs: number): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.alerts.stop(graceMs);
  }

  snapshot(): StatusSnapshot {
    const { config, queue, keys, latency, upstream } = this.p;
    return statusSnapshot({
      instance: this.name,
      history: this.history,
      episodes: () => this.alerts.active(),
      now: this.now,
      queue: () => ({
        storage: queue.kind,
        items: queue.approxItems,
        bytes: this.queueBytes,
        maxItems: config.MAX_QUEUE_ITEMS,
        maxBytes: config.MAX_QUEUE_BYTES,
        oldestAgeSeconds: this.nonEmptySince === null ? null : Math.round((this.now() - this.nonEmptySince) / 1000),
      }),
      upstream: () => ({
        url: config.SENTRY_BASE_URL,
        state: upstream.state().upstream,
        p50: latency.percentile(50),
        p99: latency.percentile(99),
        inFlight: this.p.stats.inFlight,
        pacing: config.PACING,
        maxConcurrency: config.PACING === "adaptive" ? config.MAX_CONCURRENCY : 1,
      }),
      rateLimit: (project, category) => upstream.rateLimitFor(project, category),
      keys: () => {
        const s = keys.status();
        return {
          size: s.size,
          ageSeconds: s.loadedAt === null ? null : Math.round((this.now() - s.loadedAt) / 1000),
          lastError: s.lastError,
          sources: keys.sourceNames,
        };
      },
      farm: () => this.members,
      spike: () => [...this.spikes.values()],
    });
  }

  /** Once a second: the hour's counts, the log lines due, the queue's fill and the farm's members. */
  private async look(): Promise<void> {
    if (this.looking) return;
    this.looking = true;
    const { config, stats, queue, keys, log } = this.p;
    const now = this.now();
    try {
      this.history.sample(stats.perProject);
      this.narrator.drops(now);
      const k = keys.status();
      this.narrator.keys({ ready: k.ready, size: k.size, lastError: k.lastError, sources: keys.sourceNames }, config.RESTRICT_API_ACCESS);
      if (queue.approxItems === 0) this.nonEmptySince = null;
      else this.nonEmptySince ??= now;
      const q = await queue.stats();
      this.queueBytes = q.bytes;
      this.narrator.queue({ items: q.items, bytes: q.bytes, maxItems: config.MAX_QUEUE_ITEMS, maxBytes: config.MAX_QUEUE_BYTES });
      if (this.alerts.farm.shared) this.members = await this.alerts.farm.members(this.name, now, MEMBER_TTL_MS);
    } catch (e) {
      // Storage trouble is reported where it happens (healthcheck, ingest); here it only delays a look.
      log.debug({ error: (e as Error).message }, "status look failed");
    } finally {
      this.looking = false;
    }
  }
}

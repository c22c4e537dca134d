/**
 * The alerts room's one entry: ingest reports each drop (`drop`, cheap and synchronous), and once
 * a second `tick` turns what the detector saw into log lines, episode listeners (status page,
 * spike protection) and, agreed with the farm, start/resolve alerts to the ALERTS sinks. Also
 * announces Sentry unreachable for longer than a minute, and back.
 */
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import { AlertDelivery, toSinks, type DeliveryOptions } from "./delivery.ts";
import { EpisodeDetector, type Episode, type EpisodeEvent } from "./detector.ts";
import { SoloFarm, type FarmEpisodes } from "./farm.ts";
import type { AlertMessage } from "./messages.ts";
import type { TitleCount } from "./titles.ts";

/** Sentry unreachable this long is worth an alert (shorter outages are in the log only). */
export const OUTAGE_ALERT_MS = 60_000;

export type UpstreamState = "up" | "down" | "unknown";

export interface AlertsOptions {
  config: Pick<Config, "ALERTS" | "ALERT_MIN_DROPS_PER_MINUTE" | "ALERT_RESOLVE_SECONDS">;
  log: Logger;
  /** This instance's name in messages and the farm's member list (read when needed: it may be known only once listening). */
  instance: string | (() => string);
  farm?: FarmEpisodes;
  upstream?: () => UpstreamState;
  delivery?: DeliveryOptions;
  now?: () => number;
}

export interface EpisodeNotice {
  kind: "start" | "end";
  episode: Episode;
  top: TitleCount[];
}

export class Alerts {
  readonly detector: EpisodeDetector;
  readonly delivery: AlertDelivery;
  readonly farm: FarmEpisodes;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly resolveMs: number;
  private readonly listeners: Array<(n: EpisodeNotice) => void> = [];
  /** Drops of each farm episode already reported to the farm. */
  private readonly reported = new Map<Episode, number>();
  /** Quiet here, waiting for the rest of the farm to be quiet too. */
  private readonly resolving = new Map<string, { episode: Episode; top: TitleCount[] }>();
  private downSince: number | null = null;
  private outageAnnounced = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private ticking = false;
  /** The farm's Redis failed at the last tick: said once, and once when it works again. */
  private farmFailing = false;

  constructor(private readonly o: AlertsOptions) {
    this.log = o.log;
    this.now = o.now ?? Date.now;
    this.resolveMs = o.config.ALERT_RESOLVE_SECONDS * 1000;
    this.detector = new EpisodeDetector(o.config.ALERT_MIN_DROPS_PER_MINUTE, this.resolveMs);
    this.farm = o.farm ?? new SoloFarm();
    this.delivery = new AlertDelivery(toSinks(o.config.ALERTS), {
      ...o.delivery,
      onLost: (sink, m, error) => this.log.warn({ sink: sink.label, event: m.event, error }, "alert not delivered (lost after retries)"),
    });
  }

  private get instance(): string {
    return typeof this.o.instance === "string" ? this.o.instance : this.o.instance();
  }

  /** A report was dropped (ingest path: synchronous, no I/O). */
  drop(project: number, reason: string, category: string, event: Record<string, unknown> | null = null): void {
    this.detector.drop(project, reason, category, event, this.now());
  }

  /** Called for each episode start and end seen on this instance (status page, spike protection). */
  onEpisode(listener: (n: EpisodeNotice) => void): void {
    this.listeners.push(listener);
  }

  active(): Episode[] {
    return this.detector.active();
  }

  start(intervalMs = 1000): void {
    this.timer ??= setInterval(() => void this.tick(), intervalMs);
  }

  async stop(graceMs: number): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.delivery.close(graceMs);
  }

  /** One step: episodes started and ended, the farm's verdicts, Sentry's state. Never throws. */
  async tick(now = this.now()): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      this.checkUpstream(now);
      for (const event of this.detector.tick(now)) await this.episodeEvent(event, now);
      await this.reportDrops(now);
      await this.checkResolving(now);
      if (this.farmFailing) this.log.info({}, "alerts: the farm's Redis answers again");
      this.farmFailing = false;
    } catch (e) {
      if (!this.farmFailing) this.log.warn({ error: (e as Error).message }, "alerts: cannot agree with the farm through Redis; retrying each second");
      this.farmFailing = true;
    } finally {
      this.ticking = false;
    }
  }

  private async episodeEvent(event: EpisodeEvent, now: number): Promise<void> {
    const { episode, top } = event;
    const facts = { project: episode.project, reason: episode.reason, category: episode.category };
    if (event.kind === "start") {
      this.log.warn({ ...facts, rate_per_minute: episode.ratePerMinute, top }, "dropping started");
      this.notify({ kind: "start", episode, top });
      const proposed = `${episode.key}@${episode.startedAt}@${this.instance}`;
      // Without the farm's answer, a second start is better than none.
      const claim = await this.farm.claimStart(episode.key, proposed, now).catch(() => ({ id: proposed, announce: true }));
      episode.id = claim.id;
      this.resolving.delete(episode.key);
      this.reported.set(episode, 0);
      if (claim.announce) this.delivery.send(this.message("start", episode, top, null, now));
      return;
    }
    const seconds = Math.round((episode.lastDropAt - episode.startedAt) / 1000);
    this.log.info({ ...facts, dropped: episode.dropped, duration_seconds: seconds, top }, "dropping ended");
    this.notify({ kind: "end", episode, top });
    // The farm's count may miss this instance's last drops, but the resolve must not be lost.
    await this.reportDrops(now, episode).catch(() => undefined);
    this.reported.delete(episode);
    this.resolving.set(episode.key, { episode, top });
  }

  /** Tells the farm how many drops each open episode had since the last tick. */
  private async reportDrops(now: number, only?: Episode): Promise<void> {
    if (!this.farm.shared) return;
    for (const [episode, reported] of this.reported) {
      if ((only && episode !== only) || episode.id === null || episode.dropped === reported) continue;
      this.reported.set(episode, episode.dropped);
      await this.farm.seen(episode.key, episode.id, episode.dropped - reported, episode.lastDropAt);
    }
  }

  private async checkResolving(now: number): Promise<void> {
    for (const [key, { episode, top }] of this.resolving) {
      const verdict = await this.farm.claimResolve(key, episode.id ?? key, this.resolveMs, now);
      if (verdict.verdict === "wait") continue;
      this.resolving.delete(key);
      if (verdict.verdict === "announce") this.delivery.send(this.message("resolve", episode, top, verdict.dropped, now));
    }
  }

  private checkUpstream(now: number): void {
    const state = this.o.upstream?.() ?? "unknown";
    if (state === "down") {
      this.downSince ??= now;
      if (!this.outageAnnounced && now - this.downSince >= OUTAGE_ALERT_MS) {
        this.outageAnnounced = true;
        this.delivery.send({ event: "sentry_unreachable", since: new Date(this.downSince).toISOString(), cause: null, instance: this.instance });
      }
    } else if (state === "up" && this.downSince !== null) {
      if (this.outageAnnounced) {
        this.delivery.send({
          event: "sentry_reachable",
          since: new Date(this.downSince).toISOString(),
          down_seconds: Math.round((now - this.downSince) / 1000),
          instance: this.instance,
        });
      }
      this.downSince = null;
      this.outageAnnounced = false;
    }
  }

  private message(kind: "start" | "resolve", e: Episode, top: TitleCount[], farmDropped: number | null, now: number): AlertMessage {
    const base = {
      event: kind,
      project: e.project,
      reason: e.reason,
      category: e.category,
      dropped: farmDropped ?? e.dropped,
      rate_per_minute: e.ratePerMinute,
      top,
      started_at: new Date(e.startedAt).toISOString(),
      instance: this.instance,
    };
    if (kind === "start") return base;
    return { ...base, resolved_at: new Date(now).toISOString(), duration_seconds: Math.round((e.lastDropAt - e.startedAt) / 1000) };
  }

  private notify(n: EpisodeNotice): void {
    for (const l of this.listeners) {
      try {
        l(n);
      } catch (e) {
        this.log.warn({ error: (e as Error).message }, "episode listener failed");
      }
    }
  }
}

/**
 * Takes items from the queue and sends them to Sentry at the pace Sentry bears.
 *
 * The loop: while allowed by the pacer (an adaptive concurrency limit, or one at a time spaced by
 * p90), by the outage backoff and by Sentry's per-project rate limits, lease items
 * (`queue.take` does round-robin across projects and newest-first), send each (upstream.ts), and
 * settle it from the one classification in upstream.ts: ack, release, or drop and count.
 * It never spins: with nothing to do it waits for `notify()` (ingest pushed), enough completions,
 * or a 50 ms timer (other instances may push into a shared storage; paused projects come due).
 * Slots are refilled in batches (a quarter of the limit at a time), so a fast Sentry costs one
 * loop turn and one `take` per several events rather than per event.
 * Nothing Sentry does (garbage, hangs, resets, redirects, refusals) can throw out of the loop.
 */
import type { Config } from "../config/schema.ts";
import type { Stats } from "../stats/counters.ts";
import type { LatencyWindow } from "../stats/latency.ts";
import type { QueuedItem } from "../storage/item.ts";
import type { Queue } from "../storage/queue.ts";
import { sendClientReports } from "./client-reports.ts";
import { upstreamPoster, type Poster } from "./http1/poster.ts";
import { LoopLag } from "./loop-lag.ts";
import { Backoff, Outage, createPacer, type Pacer, type UpstreamState } from "./pacer.ts";
import type { LimitAnswer } from "./rate-limits.ts";
import { Settlement, type Log } from "./settlement.ts";
import { SharedDeadlines } from "./timeouts.ts";
import { buildRequest, send, userAgent, type Outgoing, type SendOptions } from "./upstream.ts";

export type { Log };

export interface ForwarderOptions {
  config: Config;
  queue: Queue;
  stats: Stats;
  latency: LatencyWindow;
  log: Log;
  version: string;
  /** A public key of the project, for client reports; default: the last key seen on its items. */
  keyFor?: (projectId: number) => string | undefined;
  now?: () => number;
  /** Outage backoff bounds (default 1 s → 60 s, as Relay) and jitter source; tests shorten them. */
  backoff?: { baseMs: number; maxMs: number };
  random?: () => number;
  /** The event loop's lag, taken out of response times before the pacer reads them; tests inject one. */
  loopLag?: { readonly ms: number; start(): void; stop(): void };
}

export type { UpstreamState };

const IDLE_MS = 50;

export class Forwarder {
  private readonly cfg: Config;
  private readonly queue: Queue;
  private readonly stats: Stats;
  private readonly latency: LatencyWindow;
  private readonly log: Log;
  private readonly version: string;
  private readonly now: () => number;
  private readonly http: Poster;
  private readonly keyFor: (projectId: number) => string | undefined;
  private readonly pacer: Pacer;
  private readonly outage: Outage;
  private readonly settlement: Settlement;
  private readonly learnedKeys = new Map<number, string>();
  private readonly abort = new AbortController();
  private readonly settling = new Set<Promise<void>>();
  private readonly loopLag: { readonly ms: number; start(): void; stop(): void };
  private readonly deadlines: SharedDeadlines;
  private readonly sendOpts: SendOptions;

  private inFlight = 0;
  private running = false;
  private stopping = false;
  private drainDeadline = Number.POSITIVE_INFINITY;
  private loopDone: Promise<void> = Promise.resolve();
  private waker: (() => void) | null = null;
  private waitingForItems = false;
  private wakeScheduled = false;
  private reportTimer: ReturnType<typeof setInterval> | null = null;
  private reporting = false;

  constructor(opts: ForwarderOptions) {
    this.cfg = opts.config;
    this.queue = opts.queue;
    this.stats = opts.stats;
    this.latency = opts.latency;
    this.log = opts.log;
    this.version = opts.version;
    this.now = opts.now ?? Date.now;
    this.http = upstreamPoster(this.cfg.MAX_CONCURRENCY + 1);
    this.keyFor = opts.keyFor ?? ((id) => this.learnedKeys.get(id));
    this.pacer = createPacer(this.cfg.PACING, this.latency, this.cfg.MAX_DUMP_INTERVAL, this.cfg.MAX_CONCURRENCY);
    this.outage = new Outage(new Backoff(opts.backoff?.baseMs ?? 1000, opts.backoff?.maxMs ?? 60_000, opts.random));
    this.settlement = new Settlement(this.cfg, this.queue, this.stats, this.log, this.outage, this.now);
    this.loopLag = opts.loopLag ?? new LoopLag();
    this.deadlines = new SharedDeadlines(this.cfg.UPSTREAM_TIMEOUT * 1000);
    this.sendOpts = {
      post: this.http.post,
      timeoutMs: this.cfg.UPSTREAM_TIMEOUT * 1000,
      signal: this.abort.signal,
      now: this.now,
      deadline: () => {
        const slot = this.deadlines.acquire();
        return { slot, release: () => this.deadlines.release(slot) };
      },
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopLag.start();
    this.loopDone = this.loop();
    if (this.cfg.CLIENT_REPORTS) {
      this.reportTimer = setInterval(() => void this.reportDiscards(), this.cfg.CLIENT_REPORT_INTERVAL * 1000);
    }
  }

  /** Ingest queued something: wake the loop if it is idle for want of items. */
  notify(): void {
    // Woken once per event-loop turn, after its I/O: the reports of one turn are taken and sent
    // together, not one loop pass, take and timer per report.
    if (!this.waitingForItems || this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      if (this.waitingForItems) this.waker?.();
    });
  }

  /**
   * Stops taking items (memory storage: keeps forwarding until the queue is empty or
   * `drainSeconds` passed), lets in-flight requests finish until then, aborts the rest (they go
   * back to the queue), and returns how many items are left in the queue.
   */
  async stop(drainSeconds: number): Promise<number> {
    if (this.reportTimer) clearInterval(this.reportTimer);
    this.reportTimer = null;
    if (this.running) {
      this.drainDeadline = this.now() + Math.max(0, drainSeconds) * 1000;
      if (this.queue.kind !== "memory") this.stopping = true;
      this.wake();
      await this.loopDone;
      this.running = false;
      const left = this.drainDeadline - this.now();
      if (this.settling.size > 0 && left > 0) {
        await Promise.race([Promise.allSettled([...this.settling]), Bun.sleep(left)]);
      }
      // The stop signal first, so the requests aborted next read as stopped, not as timed out.
      this.abort.abort();
      this.deadlines.abortAll(this.abort.signal.reason);
      await Promise.allSettled([...this.settling]);
    }
    this.loopLag.stop();
    this.http.close();
    return this.queue.approxItems;
  }

  /** Sentry's active limit for this project and category, for ingest to pass back to SDKs. */
  rateLimitFor(projectId: number, category: string, now: number = this.now()): LimitAnswer | null {
    return this.settlement.limits.rateLimitFor(projectId, category, now);
  }

  state(): { upstream: UpstreamState; pausedProjects: number } {
    return { upstream: this.outage.state, pausedProjects: this.settlement.pausedProjects(this.now()) };
  }

  /** Sends pending client reports now (also run every CLIENT_REPORT_INTERVAL); returns how many Sentry took. */
  async reportDiscards(): Promise<number> {
    if (this.reporting || this.outage.state === "down") return 0;
    this.reporting = true;
    try {
      return await sendClientReports({
        stats: this.stats,
        keyFor: this.keyFor,
        now: this.now,
        send: (projectId, publicKey, body) => this.sendClientReport(projectId, publicKey, body),
      });
    } catch (err) {
      this.log.error({ err }, "client report failed");
      return 0;
    } finally {
      this.reporting = false;
    }
  }

  private async loop(): Promise<void> {
    while (true) {
      const now = this.now();
      if (this.stopping) break;
      if (this.drainDeadline !== Number.POSITIVE_INFINITY && (now >= this.drainDeadline || this.queue.approxItems === 0)) break;
      const outageWait = this.outage.waitMs(now);
      if (outageWait > 0) {
        await this.wait(outageWait);
        continue;
      }
      // While Sentry is down, a single request probes it.
      const limit = this.outage.state === "down" ? 1 : this.pacer.limit;
      if (limit - this.inFlight < this.refillBatch(limit)) {
        await this.wait(IDLE_MS);
        continue;
      }
      const delay = this.pacer.delay(now, this.inFlight);
      if (delay > 0) {
        await this.wait(Math.min(delay, IDLE_MS * 20));
        continue;
      }
      let items: QueuedItem[];
      try {
        items = await this.queue.take(limit - this.inFlight, { isPaused: this.settlement.isPaused });
      } catch (err) {
        this.settlement.logOnce(`take:${(err as Error)?.name}`, "error", { err }, "cannot take items from the queue; retrying");
        await this.wait(1000);
        continue;
      }
      if (items.length === 0) {
        await this.wait(IDLE_MS, true);
        continue;
      }
      for (const item of items) this.dispatch(item);
    }
  }

  private dispatch(item: QueuedItem): void {
    this.inFlight++;
    this.stats.inFlight = this.inFlight;
    const p: Promise<void> = this.forward(item)
      // Typically the storage failing an ack/release (Redis down): the lease brings the item back.
      .catch((err) => this.settlement.logOnce(`forward:${(err as Error)?.name}`, "error", { err, projectId: item.projectId }, "settling a forwarded item failed"))
      .finally(() => {
        this.inFlight--;
        this.stats.inFlight = this.inFlight;
        this.settling.delete(p);
        const limit = this.outage.state === "down" ? 1 : this.pacer.limit;
        if (limit - this.inFlight >= this.refillBatch(limit)) this.wake();
      });
    this.settling.add(p);
  }

  private async forward(item: QueuedItem): Promise<void> {
    const now = this.now();
    // Set only on change: a write has the next young collection revisit the map, an entry per project.
    if (this.learnedKeys.get(item.projectId) !== item.auth.publicKey) this.learnedKeys.set(item.projectId, item.auth.publicKey);
    if (await this.settlement.settledBeforeSending(item, now)) return;
    this.pacer.started(now);
    const { outcome, latencyMs } = await send(buildRequest(item, this.cfg, this.version), this.sendOpts);
    const done = this.now();
    if (latencyMs !== null) this.latency.record(latencyMs);
    if (outcome.kind !== "aborted") {
      this.pacer.completed(done, { latencyMs: latencyMs ?? 0, loopLagMs: this.loopLag.ms, ok: outcome.kind !== "unavailable", inFlight: this.inFlight });
    }
    await this.settlement.settle(item, outcome, done);
  }

  private async sendClientReport(projectId: number, publicKey: string, body: Uint8Array): Promise<boolean> {
    const report: Outgoing = {
      projectId,
      endpoint: "envelope",
      auth: { publicKey, secretKey: null, client: userAgent(this.version), version: 7 },
      clientIp: null,
      contentType: "application/x-sentry-envelope",
      body,
    };
    const { outcome } = await send(buildRequest(report, { ...this.cfg, FORWARD_SECRET_KEY: false }, this.version), this.sendOpts);
    if (outcome.kind === "delivered") return true;
    if (outcome.kind !== "aborted") this.settlement.logOnce(`client_report:${projectId}:${outcome.kind}`, "warn", { projectId, outcome }, "client report not accepted; will retry");
    return false;
  }

  /**
   * Free slots the loop waits for before taking more: a quarter of the limit, so a full window
   * is refilled in a few takes, not one per completion; with nothing in flight, any one.
   */
  private refillBatch(limit: number): number {
    return this.inFlight === 0 ? 1 : Math.max(1, Math.floor(limit / 4));
  }

  /** Sleeps up to `ms` (capped by the drain deadline); completions, stop() and, when `forItems`, notify() cut it short. */
  private wait(ms: number, forItems = false): Promise<void> {
    const cap = this.drainDeadline - this.now();
    const duration = Math.max(0, Math.min(ms, cap));
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        if (this.waker === done) {
          this.waker = null;
          this.waitingForItems = false;
        }
        resolve();
      };
      timer = setTimeout(done, duration);
      this.waker = done;
      this.waitingForItems = forItems;
    });
  }

  private readonly wake = (): void => this.waker?.();
}

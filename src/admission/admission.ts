/**
 * Admission: the one place that decides what becomes of a decoded report and its key.
 *
 *   key → Sentry's rate limits → sampling → spike protection → flood cut → queue → verdict
 *
 * Each way out is an outcome of the outcome list (src/outcome/outcomes.ts), recorded once, in
 * `end`, as the outcome declares (counters, per-project counts, client-report discard). The
 * server answers the returned verdict; it decides nothing. Overload and storage faults are
 * refusals answered 429 (verdict.ts): the queue's bounds, a failing storage, the budget for
 * bodies in flight (body-budget.ts) and the reports held while keys load (held.ts).
 *
 * The hot path stays as cheap as the server's was: plain calls returning `Verdict` or, only when
 * the storage or the counters await, its promise (one `.then` per report at most); accepted and
 * flood verdicts are prebuilt (verdict.ts).
 */
import type { Config } from "../config/schema.ts";
import type { KeyRegistry } from "../keys/registry.ts";
import { OUTCOMES, type DropReason } from "../outcome/outcomes.ts";
import type { Auth } from "../protocol/auth.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { getFloodKey, groupingHash } from "../protocol/grouping.ts";
import { Verdict as SpikeVerdict, type SpikeLimiter } from "../spike/limiter.ts";
import type { Report } from "../protocol/report.ts";
import type { Stats } from "../stats/counters.ts";
import type { NewItem } from "../storage/item.ts";
import { QueueFullError, StorageUnavailableError, type Queue } from "../storage/queue.ts";
import { CounterUnavailableError, type CounterStore } from "../throttle/counter-store.ts";
import { BodyBudget } from "./body-budget.ts";
import { MemoryHeldStore } from "../storage/held/memory.ts";
import type { HeldStore, StoredHeldReport } from "../storage/held/index.ts";
import { decodeHeld, HeldReports } from "./held.ts";
import { rateLimited, refused, verdict, type RateLimitAnswer, type Verdict } from "./verdict.ts";

/** The client's address, or how to find it: looked up only for reports that are queued. */
export type ClientIp = string | null | (() => string | null);

export interface AdmissionDeps {
  config: Config;
  keys: KeyRegistry;
  queue: Queue;
  counters: CounterStore;
  /** Where reports held while keys load are kept (storage/held/): beside the queue. Default: memory. */
  held?: HeldStore;
  /**
   * Counts a report's flood key and queues it in one step, when the queue's storage holds the
   * counters too (RedisQueue.pushCounted, for Redis storage with Redis counters); returns the
   * count, and queues only within `flood.maxUses`. Absent: `counters` then `queue`.
   */
  pushCounted?: NonNullable<Queue["pushCounted"]>;
  stats: Stats;
  /** Sentry's active rate limit for a project and category, passed back to SDKs (null: none). */
  rateLimits?: (projectId: number, category: string) => RateLimitAnswer | null;
  /** Spike protection (src/spike/), unless SPIKE_PROTECTION is off for every project. */
  spike?: SpikeLimiter;
  /** Wakes the forwarder when something was queued. */
  onQueued?: () => void;
  /** The storage or the counters are down (not merely full). */
  onStorageError?: (e: Error) => void;
  /** A held report failed to be admitted for a reason that is no refusal (a bug). */
  onInternalError?: (e: unknown) => void;
  /**
   * Each report dropped here (an outcome of the dropped series), with its parsed error event if
   * any: drop episodes, alerts and the status page (src/gateway/watch.ts). Synchronous and cheap.
   */
  onDropped?: (projectId: number, reason: DropReason, category: string, event: Record<string, unknown> | null) => void;
}

/** Seconds a client waits after a refusal for bodies in flight: they are read within seconds. */
const BODIES_RETRY_AFTER = 2;
/** Seconds a client waits while keys have never loaded (the registry retries within seconds). */
const KEYS_RETRY_AFTER = 10;

const forbidden = () => new ProtocolError(403, "event submission rejected with_reason: ProjectId");

export class Admission {
  /** Request bodies being read and decoded (MAX_INFLIGHT_BYTES); the server reads within it. */
  readonly bodies: BodyBudget;
  private readonly held: HeldReports;
  /** Resolves once the keys loaded and the first release of held reports ended (tests, stop). */
  readonly heldReleased: Promise<void>;

  constructor(private readonly deps: AdmissionDeps) {
    this.bodies = new BodyBudget(deps.config.MAX_INFLIGHT_BYTES, deps.config.MAX_INFLIGHT_BYTES_PER_CLIENT);
    this.held = new HeldReports(deps.config.MAX_PENDING_BYTES, deps.held ?? new MemoryHeldStore());
    this.heldReleased = deps.keys.loaded.then(() => this.releaseHeld());
  }

  /**
   * Checks the key against the registry; returns the project the report belongs to, null while
   * the keys have never loaded (the report is then held, see `hold`), or throws 403.
   */
  authorize(auth: Auth, projectId: number | null): number | null {
    const { config, keys } = this.deps;
    const key = keys.lookup(auth.publicKey);
    if (!config.RESTRICT_API_ACCESS) {
      const resolved = projectId ?? key?.projectId;
      if (resolved === undefined) {
        if (!keys.ready) return null;
        throw forbidden();
      }
      return resolved;
    }
    if (!key && !keys.ready) return null;
    if (!key || (projectId !== null && key.projectId !== projectId)) throw forbidden();
    if (config.CHECK_SECRET_KEY && auth.secretKey && key.secretKey && auth.secretKey !== key.secretKey) throw forbidden();
    return key.projectId;
  }

  /**
   * Decides an authorized report's fate. `floodUrl` is the request path of a GET store report,
   * whose flood key is its URL (as the original's); null for everything else. Throws only what
   * is no storage refusal (a bug), for the server's 500.
   */
  admit(report: Report, projectId: number, auth: Auth, clientIp: ClientIp, floodUrl: string | null): Verdict | Promise<Verdict> {
    const { config, counters } = this.deps;
    const limit = this.deps.rateLimits?.(projectId, report.category);
    if (limit) return this.end(rateLimited(OUTCOMES.rate_limited, limit), projectId, report.category, report.errorEvent);

    if (report.sampleable) {
      const share = config.IGNORE_PERCENTAGE[projectId];
      if (share !== undefined && share > 0 && Math.random() * 100 < share) return this.end(verdict(OUTCOMES.sampled, 0), projectId, report.category, report.errorEvent);
    }

    // The error group: the spike check's novelty lane and the flood cut share it.
    const floodKey = report.errorEvent === null ? null : floodUrl !== null ? getFloodKey(floodUrl) : groupingHash(report.errorEvent, projectId);
    const spike = this.deps.spike;
    if (spike !== undefined && spike.check(projectId, report.category, floodKey, Date.now()) === SpikeVerdict.drop) return this.spiked(spike, projectId, report);

    if (floodKey === null || config.URL_CACHE_EXPIRATION <= 0) return this.enqueue(report, projectId, auth, clientIp, 0);
    const pushCounted = this.deps.pushCounted;
    if (pushCounted) {
      // Counters and queue in one storage: count and queue in one step (see AdmissionDeps.pushCounted).
      const flood = { key: floodKey, windowSeconds: config.URL_CACHE_EXPIRATION, maxUses: config.MAX_CACHE_USES };
      return pushCounted(newItem(report, projectId, auth, clientIp), flood).then(
        (cacheCount) => this.end(verdict(cacheCount > config.MAX_CACHE_USES ? OUTCOMES.flood : OUTCOMES.accepted, cacheCount), projectId, report.category, report.errorEvent),
        (e: unknown) => this.refused(e, projectId, report),
      );
    }
    let counted: number | Promise<number>;
    try {
      counted = counters.increment(floodKey, config.URL_CACHE_EXPIRATION);
    } catch (e) {
      return this.refused(e, projectId, report);
    }
    if (typeof counted === "number") return this.counted(report, projectId, auth, clientIp, counted);
    return counted.then(
      (cacheCount) => this.counted(report, projectId, auth, clientIp, cacheCount),
      (e: unknown) => this.refused(e, projectId, report),
    );
  }

  private counted(report: Report, projectId: number, auth: Auth, clientIp: ClientIp, cacheCount: number): Verdict | Promise<Verdict> {
    if (cacheCount > this.deps.config.MAX_CACHE_USES) return this.end(verdict(OUTCOMES.flood, cacheCount), projectId, report.category, report.errorEvent);
    return this.enqueue(report, projectId, auth, clientIp, cacheCount);
  }

  private enqueue(report: Report, projectId: number, auth: Auth, clientIp: ClientIp, cacheCount: number): Verdict | Promise<Verdict> {
    let pushed: void | Promise<void>;
    try {
      pushed = this.deps.queue.push(newItem(report, projectId, auth, clientIp));
    } catch (e) {
      return this.refused(e, projectId, report);
    }
    if (!pushed) return this.end(verdict(OUTCOMES.accepted, cacheCount), projectId, report.category, report.errorEvent);
    return pushed.then(
      () => this.end(verdict(OUTCOMES.accepted, cacheCount), projectId, report.category, report.errorEvent),
      (e: unknown) => this.refused(e, projectId, report),
    );
  }

  /** Over the project's spike limit: answered per SPIKE_RESPONSE, reported to Sentry as spike_protection. */
  private spiked(spike: SpikeLimiter, projectId: number, report: Report): Verdict {
    if (this.deps.config.SPIKE_RESPONSE === "accept") return this.end(verdict(OUTCOMES.spike, 0), projectId, report.category, report.errorEvent);
    const retryAfter = spike.retryAfter(projectId, report.category, Date.now());
    return this.end(rateLimited(OUTCOMES.spike, { retryAfter, header: spike.rateLimitHeader(report.category, retryAfter) }), projectId, report.category, report.errorEvent);
  }

  /**
   * The storage or the counters refused the report: queue_full when at its bounds, else
   * storage_unavailable; both answered 429 with Retry-After and X-Sentry-Rate-Limits.
   */
  private refused(e: unknown, projectId: number | null, report: Report): Verdict {
    if (!(e instanceof QueueFullError || e instanceof StorageUnavailableError || e instanceof CounterUnavailableError)) throw e;
    const full = e instanceof QueueFullError;
    if (!full) this.deps.onStorageError?.(e);
    const why = { detail: "failed to queue envelope", message: e.message, retryAfter: e.retryAfter };
    return this.end(refused(full ? OUTCOMES.queue_full : OUTCOMES.storage_unavailable, why, report.category), projectId, report.category, report.errorEvent);
  }

  /**
   * The budget for bodies in flight has no room for this request's body, which is not read:
   * bodies_in_flight. The project is known when the key came with the request; the category only
   * when the route tells it (store: error).
   */
  overBudget(projectId: number | null, category: string | null, message: string): Verdict {
    const why = { detail: "too many request bodies in flight", message, retryAfter: BODIES_RETRY_AFTER };
    return this.end(refused(OUTCOMES.bodies_in_flight, why, category), projectId, category);
  }

  /** A report that cannot be held while keys load (no room left, or no project to hold it for): keys_pending. */
  keysPending(category: string | null): Verdict {
    const why = {
      detail: "project keys not loaded yet",
      message: `reports held while keys load are at MAX_PENDING_BYTES (${this.held.maxBytes})`,
      retryAfter: KEYS_RETRY_AFTER,
    };
    return this.end(refused(OUTCOMES.keys_pending, why, category), null, category);
  }

  /**
   * Holds a decoded, well-formed report while the keys have never loaded: answered 200 once it is
   * as durable as the storage (its outcome is recorded once the keys arrive, in `releaseHeld`),
   * keys_pending past MAX_PENDING_BYTES, storage_unavailable when the storage refuses it. `limit`
   * is the body limit it was read with, to decode it again for the project its key turns out to have.
   */
  hold(report: Report, auth: Auth, projectId: number | null, clientIp: ClientIp, floodUrl: string | null, limit: number): Verdict | Promise<Verdict> {
    const ip = typeof clientIp === "function" ? clientIp() : clientIp;
    const category = report.category;
    let kept: boolean | Promise<boolean>;
    try {
      kept = this.held.hold({ endpoint: report.endpoint, body: report.body.slice(), auth, projectId, clientIp: ip, floodUrl, category, limit });
    } catch (e) {
      return this.refused(e, null, report);
    }
    const answer = (fits: boolean): Verdict => (fits ? verdict(OUTCOMES.accepted, 0) : this.keysPending(category));
    if (!(kept instanceof Promise)) return answer(kept);
    return kept.then(answer, (e: unknown) => this.refused(e, null, report));
  }

  /** Reports held while keys loaded / how many bytes: for /metrics and tests. */
  get heldReports(): { count: number; bytes: number } {
    return { count: this.held.count, bytes: this.held.bytes };
  }

  /** Stops releasing held reports (the gateway stops; what is left stays in durable storage). */
  stop(): void {
    this.held.stop();
  }

  /**
   * The keys have loaded: each held report (a previous run's too) has its key checked and is
   * admitted as if it had just arrived, or counted as held_unknown_key (reported to its URL's
   * project when that one exists: the client was answered 200); then removed from the store.
   */
  private releaseHeld(): Promise<void> {
    return this.held.release(
      (h) => this.releaseOne(h),
      (e) => this.deps.onStorageError?.(e instanceof Error ? e : new Error(String(e))),
    );
  }

  private async releaseOne(h: StoredHeldReport): Promise<void> {
    let projectId: number | null = null;
    try {
      projectId = this.authorize(h.auth, h.projectId);
    } catch {
      // an unknown, disabled or other project's key
    }
    if (projectId === null) {
      const reportTo = h.projectId !== null && this.deps.keys.keyForProject(h.projectId) !== undefined ? h.projectId : null;
      this.end(verdict(OUTCOMES.held_unknown_key, 0), reportTo, h.category);
      return;
    }
    try {
      await this.admit(decodeHeld(h, projectId, this.deps.config.MAX_EVENT_SIZE), projectId, h.auth, h.clientIp, h.floodUrl);
    } catch (e) {
      this.deps.onInternalError?.(e);
    }
  }

  /** Records the verdict, once, as its outcome declares. */
  private end(v: Verdict, projectId: number | null, category: string | null, event: Record<string, unknown> | null = null): Verdict {
    this.deps.stats.record(v.outcome, projectId, category);
    if (v.outcome.series === "dropped" && projectId !== null && category !== null) this.deps.onDropped?.(projectId, v.outcome.name as DropReason, category, event);
    if (v.outcome === OUTCOMES.accepted) this.deps.onQueued?.();
    return v;
  }
}

/** What the queue keeps of an admitted report. */
function newItem(report: Report, projectId: number, auth: Auth, clientIp: ClientIp): NewItem {
  return {
    projectId,
    endpoint: report.endpoint,
    auth, // parsed credentials are never mutated; the same object per auth header lets storage reuse its encoding
    clientIp: typeof clientIp === "function" ? clientIp() : clientIp,
    contentType: report.contentType,
    body: report.body,
    eventId: report.eventId,
    receivedAt: Date.now(),
    category: report.category,
  };
}

/**
 * The queue in Redis (STORAGE=redis), shared by every cyclops of a farm, on a single Redis or a
 * Redis Cluster (REDIS_CLUSTER). Each project's keys share one hash tag (one slot) and each step is
 * one Lua script on one project (src/redis/*.lua); what spans projects is done here (docs/REDIS.md):
 *
 * - Fairness is farm-wide: `take` goes round the farm's set of projects, asking each its share.
 * - The bounds are farm-wide: a push's room is the bound less the other projects' totals as last
 *   heard (FarmTotals).
 * - A taken item is leased to this instance until `leaseMs` from now, on Redis's clock; if the
 *   instance dies, the next take of that project re-queues it: at-least-once delivery.
 * - `push` resolves once Redis has run the script, and with `waitReplicas` once that many replicas
 *   have it too (WAIT, one per master and event-loop turn): a failover loses nothing acknowledged.
 * - While Redis is down every operation fails at once with StorageUnavailableError (no offline
 *   queue), the client reconnects by itself, and problem() says what is wrong.
 */
import { decodeItem, encodeItem, itemBytes, type NewItem, type QueuedItem } from "./item.ts";
import { statsOfProjects, StorageUnavailableError, type FloodCount, type Queue, type QueueLimits, type QueueStats, type TakeOptions } from "./queue.ts";
import { RedisConnection, type RedisSettings } from "../redis/connection.ts";
import { counterKey, projectKeys } from "../redis/keys.ts";
import { SCRIPTS, windowMs } from "../redis/scripts.ts";
import { asBuffer, batchBlob, byProject, throwIfFull, type PendingPush } from "./redis/batch.ts";
import { FarmTotals } from "./redis/farm-totals.ts";
import { migrateLegacyQueue } from "./redis/legacy.ts";
import { ProjectSet } from "./redis/project-set.ts";
import { rotate, takeRoundRobin } from "./redis/round-robin.ts";

export interface RedisQueueOptions {
  /** How long a taken item stays leased before another instance may take it. Default 60 s. */
  leaseMs?: number;
  /** Store bodies zstd-compressed (item layout 2; REDIS_COMPRESSION). Default false. */
  compress?: boolean;
  /** Replicas that must confirm a push before it resolves (REDIS_WAIT_REPLICAS). Default 0. */
  waitReplicas?: number;
  /** How long a push waits for them before it fails (and the client retries). Default 2 s. */
  waitTimeoutMs?: number;
}

/** Reports per turn sent together: bounds a script's time and its Lua stack use. */
const MAX_BATCH = 256;
/** How often a take re-reads every project's totals, so pushes see what other instances queued. */
const TOTALS_REFRESH_MS = 1000;

export class RedisQueue implements Queue {
  readonly kind = "redis" as const;
  readonly connection: RedisConnection;
  private readonly prefix: string;
  /** Identifies this instance's leases. */
  private readonly holder = crypto.randomUUID();
  private readonly leaseMs: number;
  private readonly order: "1" | "0";
  private readonly compress: boolean;
  private readonly waitReplicas: number;
  private readonly waitTimeoutMs: number;
  private readonly totals = new FarmTotals();
  private readonly projects: ProjectSet;
  /** Moving an earlier layout's items (legacy.ts); a failure leaves them for the next start. */
  legacyMigration: Promise<number> | undefined;
  /** Each take starts one project further round the farm's projects. */
  private turn = 0;
  /** When a take last refreshed every project's totals (ms, this clock). */
  private refreshedAt = -Infinity;
  private closed = false;
  /** pushCounted calls waiting for this turn's batch. */
  private batch: PendingPush[] = [];

  constructor(
    settings: RedisSettings,
    private readonly limits: QueueLimits,
    options: RedisQueueOptions = {},
  ) {
    this.connection = new RedisConnection(settings);
    this.prefix = settings.prefix;
    this.projects = new ProjectSet(this.connection.client, settings.prefix);
    this.leaseMs = Math.max(1, Math.round(options.leaseMs ?? 60_000));
    this.order = limits.newestFirst ? "1" : "0";
    this.compress = options.compress ?? false;
    this.waitReplicas = options.waitReplicas ?? 0;
    this.waitTimeoutMs = options.waitTimeoutMs ?? 2000;
  }

  get approxItems(): number {
    return this.totals.items;
  }

  /**
   * Resolves once connected; operations before that are refused. Then moves, in the background,
   * items an earlier cyclops queued in the old layout (legacyMigration resolves with their count).
   */
  async waitReady(timeoutMs?: number): Promise<void> {
    await this.connection.waitReady(timeoutMs);
    this.legacyMigration ??= migrateLegacyQueue(this.connection.client, this.prefix, (item) => this.push(item)).catch(() => 0);
  }

  async push(item: NewItem): Promise<void> {
    this.ensureUsable();
    const p = item.projectId;
    await this.call(() => this.projects.add([p]));
    const k = projectKeys(this.prefix, p);
    const [roomItems, roomBytes] = this.totals.room(p, this.limits.maxItems, this.limits.maxBytes);
    const args = [asBuffer(encodeItem(item, undefined, this.compress)), itemBytes(item), roomItems, roomBytes];
    const [result, items, bytes] = (await this.call(() => SCRIPTS.push.run(this.connection.client, [k.seq, k.items, k.stats, k.queue], args))) as number[];
    this.totals.set(p, items!, bytes!);
    throwIfFull(result!);
    await this.replicated([k.stats]);
  }

  /**
   * The flood cut and push in one script run, for when the flood counters are in this Redis under
   * this prefix too: counts `flood.key` (in the project's slot), and queues the item only when the
   * count is within `flood.maxUses`. Returns the count; throws as push. The gateway wires it into
   * the ingest pipeline when STORAGE and CACHE_IMPLEMENTATION_CLASS are both redis.
   *
   * Reports arriving in the same turn of the event loop go to Redis together, one run of
   * count-push-batch.lua per project (at most MAX_BATCH reports a turn): Redis's own cost is
   * mostly per command, and it is what bounds a Redis farm. Each report is still acknowledged only
   * once Redis has run the script holding it, and a project's answers equal running its reports
   * one by one in arrival order.
   */
  pushCounted(item: NewItem, flood: FloodCount): Promise<number> {
    try {
      this.ensureUsable();
    } catch (e) {
      return Promise.reject(e);
    }
    // A batch shares one window and MAX_CACHE_USES (the config's, so in practice every report).
    const first = this.batch[0]?.flood;
    if (first !== undefined && (first.windowSeconds !== flood.windowSeconds || first.maxUses !== flood.maxUses)) void this.sendBatch();
    return new Promise<number>((resolve, reject) => {
      const size = this.batch.push({ item, flood, resolve, reject });
      if (size === 1) setImmediate(this.sendBatch);
      else if (size >= MAX_BATCH) void this.sendBatch();
    });
  }

  /** Sends the reports gathered so far (a no-op when a full batch already went); settles with their answers. */
  private readonly sendBatch = async (): Promise<void> => {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    try {
      const groups = [...byProject(batch)];
      await this.call(() => this.projects.add(groups.map(([p]) => p)));
      // Each project's run stands alone: one failing (its master down) fails only its reports.
      const runs = await Promise.allSettled(groups.map(([p, group]) => this.countPush(p, group)));
      const done = groups.filter((_, i) => runs[i]!.status === "fulfilled");
      runs.forEach((run, i) => {
        if (run.status === "rejected") for (const p of groups[i]![1]) p.reject(run.reason);
      });
      if (done.length === 0) return;
      try {
        await this.replicated(done.map(([p]) => projectKeys(this.prefix, p).stats));
      } catch (e) {
        for (const [, group] of done) for (const p of group) p.reject(e);
        return;
      }
      for (const run of runs) if (run.status === "fulfilled") for (const settle of run.value) settle();
    } catch (e) {
      // Called from setImmediate: a throw here would escape as an uncaught exception and leave
      // every report of the batch waiting forever.
      for (const p of batch) p.reject(e);
    }
  };

  /** One project's reports of a batch in one script run; returns how to settle each (once replicated). */
  private async countPush(projectId: number, group: PendingPush[]): Promise<(() => void)[]> {
    const k = projectKeys(this.prefix, projectId);
    const keys = [k.seq, k.items, k.stats, k.queue];
    for (const { flood } of group) keys.push(counterKey(this.prefix, flood.key, projectId));
    const { windowSeconds, maxUses } = group[0]!.flood;
    const [roomItems, roomBytes] = this.totals.room(projectId, this.limits.maxItems, this.limits.maxBytes);
    const args = [roomItems, roomBytes, windowMs(windowSeconds), maxUses, batchBlob(group, this.compress)];
    const reply = (await this.call(() => SCRIPTS.countPushBatch.run(this.connection.client, keys, args))) as number[];
    this.totals.set(projectId, reply[reply.length - 2]!, reply[reply.length - 1]!);
    return group.map((p, i) => () => {
      const count = reply[2 * i]!;
      try {
        if (count <= p.flood.maxUses) throwIfFull(reply[2 * i + 1]!);
        p.resolve(count);
      } catch (e) {
        p.reject(e);
      }
    });
  }

  /** With waitReplicas, waits until that many replicas have this connection's writes to `keys`' masters. */
  private async replicated(keys: string[]): Promise<void> {
    if (this.waitReplicas === 0) return;
    const confirmed = await this.call(() => this.connection.waitForReplicas(keys, this.waitReplicas, this.waitTimeoutMs));
    if (confirmed < this.waitReplicas) {
      throw new StorageUnavailableError(`Redis: ${confirmed} of ${this.waitReplicas} replicas confirmed the write within ${this.waitTimeoutMs} ms`);
    }
  }

  async take(max: number, opts?: TakeOptions): Promise<QueuedItem[]> {
    this.ensureUsable();
    const members = await this.call(() => this.projects.members());
    if (performance.now() - this.refreshedAt >= TOTALS_REFRESH_MS) {
      this.refreshedAt = performance.now();
      await this.projectTotals(members);
    }
    const isPaused = opts?.isPaused;
    const candidates = rotate(
      members.filter((p) => !isPaused?.(p)),
      this.turn++,
    );
    return takeRoundRobin(candidates, max, (p, n) => this.takeFrom(p, n));
  }

  /** Leases up to `max` of one project's items. */
  private async takeFrom(projectId: number, max: number): Promise<QueuedItem[]> {
    const k = projectKeys(this.prefix, projectId);
    const reply = (await this.call(() =>
      SCRIPTS.take.runBuffer(this.connection.client, [k.items, k.queue, k.leased, k.leases, k.attempts, k.stats], [max, this.order, this.leaseMs, this.holder]),
    )) as (Buffer | number)[];
    this.totals.set(projectId, Number(reply[0]), Number(reply[1]));
    const out: QueuedItem[] = [];
    for (let i = 2; i + 2 < reply.length; i += 3) {
      const item = decodeItem(`${projectId}:${reply[i]!.toString()}`, reply[i + 1] as Buffer);
      item.attempts = Number(reply[i + 2]!.toString());
      out.push(item);
    }
    return out;
  }

  async ack(item: QueuedItem): Promise<void> {
    this.ensureUsable();
    const k = projectKeys(this.prefix, item.projectId);
    const [items, bytes] = (await this.call(() =>
      SCRIPTS.ack.run(this.connection.client, [k.items, k.leased, k.leases, k.attempts, k.stats], [localId(item), itemBytes(item)]),
    )) as number[];
    this.totals.set(item.projectId, items!, bytes!);
  }

  async release(item: QueuedItem, failed: boolean): Promise<void> {
    this.ensureUsable();
    const k = projectKeys(this.prefix, item.projectId);
    await this.call(() =>
      SCRIPTS.release.run(this.connection.client, [k.queue, k.items, k.leased, k.leases, k.attempts], [localId(item), this.holder, failed ? "1" : "0", this.order]),
    );
  }

  async stats(): Promise<QueueStats> {
    this.ensureUsable();
    const members = await this.call(() => this.projects.members());
    return statsOfProjects(await this.projectTotals(members));
  }

  /** Reads the totals of `projects` (one command each, pipelined per master) into FarmTotals; returns the non-empty ones. */
  private async projectTotals(projects: number[]): Promise<Map<number, { items: number; bytes: number }>> {
    const client = this.connection.client;
    const fields = await this.call(() => Promise.all(projects.map((p) => client.hmget(projectKeys(this.prefix, p).stats, "items", "bytes"))));
    const perProject = new Map<number, { items: number; bytes: number }>();
    projects.forEach((p, i) => {
      const entry = { items: Number(fields[i]![0] ?? 0), bytes: Number(fields[i]![1] ?? 0) };
      this.totals.set(p, entry.items, entry.bytes);
      if (entry.items > 0) perProject.set(p, entry);
    });
    return perProject;
  }

  problem(): string | null {
    return this.closed ? "Redis queue is closed" : this.connection.problem();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sendBatch(); // reports already in this turn's batch still go (or fail) before the connection ends
    await this.connection.close();
  }

  private ensureUsable(): void {
    if (this.closed) throw new StorageUnavailableError("queue is closed");
    if (!this.connection.isReady) throw new StorageUnavailableError(this.connection.problem() ?? "Redis not connected");
  }

  private async call<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      if (e instanceof StorageUnavailableError) throw e;
      throw new StorageUnavailableError(`Redis: ${(e as Error).message}`);
    }
  }
}

/** An item's id within its project's keys (QueuedItem.id is "<project>:<id>", unique in the farm). */
const localId = (item: QueuedItem): string => item.id.slice(item.id.lastIndexOf(":") + 1);

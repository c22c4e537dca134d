/**
 * The queue in Redis (STORAGE=redis), shared by every cyclops of a farm: one push/take/ack/release
 * Lua script each (src/redis/*.lua), so bounds, round-robin and leases hold farm-wide.
 *
 * - Fairness is farm-wide: the ring of non-empty projects lives in Redis and every take rotates it.
 * - A taken item is leased to this instance (its holder token) until `leaseMs` from now, on Redis's
 *   clock. If the instance dies, the next take anywhere in the farm re-queues it after the lease
 *   expires: at-least-once delivery. In normal operation no two instances take the same item.
 * - `push` resolves once Redis has executed the script (acknowledged; durable as far as Redis's
 *   own persistence settings go).
 * - While Redis is down every operation fails at once with StorageUnavailableError (no offline
 *   queue), the client reconnects by itself, and problem() says what is wrong.
 */
import { decodeItem, encodeItem, itemBytes, type NewItem, type QueuedItem } from "./item.ts";
import {
  QueueFullError,
  StorageUnavailableError,
  type FloodCount,
  type Queue,
  type QueueLimits,
  type QueueStats,
  type TakeOptions,
} from "./queue.ts";
import { RedisConnection, type RedisSettings } from "../redis/connection.ts";
import { counterKey, projectQueueKey, queueKeys, type QueueKeys } from "../redis/keys.ts";
import { PUSH_FULL_BYTES, PUSH_FULL_ITEMS, SCRIPTS, windowMs } from "../redis/scripts.ts";

export interface RedisQueueOptions {
  /** How long a taken item stays leased before another instance may take it. Default 60 s. */
  leaseMs?: number;
  /** Store bodies zstd-compressed (item layout 2; REDIS_COMPRESSION). Default false. */
  compress?: boolean;
}

/** Reports per count-push-batch.lua run: bounds the script's time and its Lua stack use. */
const MAX_BATCH = 256;
/** count-push-batch.lua's header before each report in the batch: item length, item bytes (u32 LE), project id length (u8). */
const REPORT_HEADER = 9;
/** Room for an encoded item's metadata line when sizing a batch (it grows if a line is longer). */
const HEAD_ALLOWANCE = 512;

interface PendingPush {
  item: NewItem;
  flood: FloodCount;
  resolve(count: number): void;
  reject(e: unknown): void;
}

export class RedisQueue implements Queue {
  readonly kind = "redis" as const;
  readonly connection: RedisConnection;
  private readonly keys: QueueKeys;
  private readonly prefix: string;
  /** Identifies this instance's leases. */
  private readonly holder = crypto.randomUUID();
  private readonly leaseMs: number;
  private readonly order: "1" | "0";
  private readonly compress: boolean;
  /** Farm-wide item count as last reported by a script. */
  private lastKnownItems = 0;
  private closed = false;
  /** pushCounted calls waiting for this turn's batch. */
  private batch: PendingPush[] = [];

  constructor(
    settings: RedisSettings,
    private readonly limits: QueueLimits,
    options: RedisQueueOptions = {},
  ) {
    this.connection = new RedisConnection(settings);
    this.keys = queueKeys(settings.prefix);
    this.prefix = settings.prefix;
    this.leaseMs = Math.max(1, Math.round(options.leaseMs ?? 60_000));
    this.order = limits.newestFirst ? "1" : "0";
    this.compress = options.compress ?? false;
  }

  get approxItems(): number {
    return this.lastKnownItems;
  }

  /** Resolves once connected; operations before that are refused. */
  waitReady(timeoutMs?: number): Promise<void> {
    return this.connection.waitReady(timeoutMs);
  }

  async push(item: NewItem): Promise<void> {
    this.ensureUsable();
    const result = await this.call(() => SCRIPTS.push.run(this.connection.client, this.pushKeys(item), this.pushArgs(item)));
    this.pushed(Number(result));
  }

  /**
   * The flood cut and push in one script run, for when the flood counters are in this Redis under
   * this prefix too (RedisCounterStore's keys): counts `flood.key`, and queues the item only when
   * the count is within `flood.maxUses`. Returns the count; throws as push. The gateway wires it
   * into the ingest pipeline when STORAGE and CACHE_IMPLEMENTATION_CLASS are both redis.
   *
   * Reports arriving in the same turn of the event loop go to Redis together, as one run of
   * count-push-batch.lua (at most MAX_BATCH): Redis's own cost is mostly per command, and it is
   * what bounds a Redis farm. Each report is still acknowledged only once Redis has run the
   * script holding it, and the answers equal running the reports one by one in arrival order.
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
  private readonly sendBatch = (): Promise<void> => {
    const batch = this.batch;
    if (batch.length === 0) return Promise.resolve();
    this.batch = [];
    const k = this.keys;
    const keys = [k.seq, k.items, k.stats, k.ring];
    let sent: Promise<unknown>;
    try {
      for (const { item, flood } of batch) keys.push(projectQueueKey(k, item.projectId), counterKey(this.prefix, flood.key));
      const { windowSeconds, maxUses } = batch[0]!.flood;
      const args = [this.limits.maxItems, this.limits.maxBytes, windowMs(windowSeconds), maxUses, batchBlob(batch, this.compress)];
      sent = this.call(() => SCRIPTS.countPushBatch.run(this.connection.client, keys, args));
    } catch (e) {
      // Called from setImmediate: a throw here would escape as an uncaught exception and leave
      // every report of the batch waiting forever.
      sent = Promise.reject(e);
    }
    return sent.then(
      (reply) => {
        const answers = reply as number[];
        batch.forEach((p, i) => {
          const count = answers[2 * i]!;
          try {
            if (count <= p.flood.maxUses) this.pushed(answers[2 * i + 1]!);
            p.resolve(count);
          } catch (e) {
            p.reject(e);
          }
        });
      },
      (e: unknown) => {
        for (const p of batch) p.reject(e);
      },
    );
  };

  private pushKeys(item: NewItem): string[] {
    const k = this.keys;
    return [k.seq, k.items, k.stats, k.ring, projectQueueKey(k, item.projectId)];
  }

  private pushArgs(item: NewItem): (Buffer | number)[] {
    return [asBuffer(encodeItem(item, undefined, this.compress)), item.projectId, itemBytes(item), this.limits.maxItems, this.limits.maxBytes];
  }

  /** push-5's answer: the farm-wide item count, or why nothing was queued. */
  private pushed(result: number): void {
    if (result === PUSH_FULL_ITEMS) throw new QueueFullError("items");
    if (result === PUSH_FULL_BYTES) throw new QueueFullError("bytes");
    this.lastKnownItems = result;
  }

  async take(max: number, opts?: TakeOptions): Promise<QueuedItem[]> {
    this.ensureUsable();
    const k = this.keys;
    const client = this.connection.client;
    const paused = opts?.isPaused ? await this.pausedProjects(opts.isPaused) : [];
    const reply = (await this.call(() =>
      SCRIPTS.take.runBuffer(
        client,
        [k.ring, k.items, k.leased, k.leases, k.attempts],
        [k.projectPrefix, max, this.order, this.leaseMs, this.holder, ...paused],
      ),
    )) as Buffer[];
    const out: QueuedItem[] = [];
    for (let i = 0; i + 2 < reply.length; i += 3) {
      const item = decodeItem(reply[i]!.toString(), reply[i + 1]!);
      item.attempts = Number(reply[i + 2]!.toString());
      out.push(item);
    }
    return out;
  }

  async ack(item: QueuedItem): Promise<void> {
    this.ensureUsable();
    const k = this.keys;
    const result = await this.call(() =>
      SCRIPTS.ack.run(
        this.connection.client,
        [k.items, k.leased, k.leases, k.attempts, k.stats],
        [item.id, item.projectId, itemBytes(item)],
      ),
    );
    this.lastKnownItems = Number(result);
  }

  async release(item: QueuedItem, failed: boolean): Promise<void> {
    this.ensureUsable();
    const k = this.keys;
    await this.call(() =>
      SCRIPTS.release.run(
        this.connection.client,
        [k.ring, k.items, k.leased, k.leases, k.attempts],
        [k.projectPrefix, item.id, item.projectId, this.holder, failed ? "1" : "0", this.order],
      ),
    );
  }

  async stats(): Promise<QueueStats> {
    this.ensureUsable();
    const fields = await this.call(() => this.connection.client.hgetall(this.keys.stats));
    const perProject = new Map<number, { items: number; bytes: number }>();
    for (const [field, value] of Object.entries(fields)) {
      const m = /^(\d+):(items|bytes)$/.exec(field);
      if (m === null) continue;
      const id = Number(m[1]);
      const entry = perProject.get(id) ?? { items: 0, bytes: 0 };
      entry[m[2] as "items" | "bytes"] = Number(value);
      perProject.set(id, entry);
    }
    const items = Number(fields.items ?? 0);
    this.lastKnownItems = items;
    return { items, bytes: Number(fields.bytes ?? 0), perProject };
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

  /** Ring members for which `isPaused` holds; a project joining meanwhile is served normally. */
  private async pausedProjects(isPaused: (projectId: number) => boolean): Promise<string[]> {
    const ring = await this.call(() => this.connection.client.lrange(this.keys.ring, 0, -1));
    return ring.filter((id) => isPaused(Number(id)));
  }

  private ensureUsable(): void {
    if (this.closed) throw new StorageUnavailableError("queue is closed");
    if (!this.connection.isReady) throw new StorageUnavailableError(this.connection.problem() ?? "Redis not connected");
  }

  private async call<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      throw new StorageUnavailableError(`Redis: ${(e as Error).message}`);
    }
  }
}

/**
 * Every report of a batch in one Buffer, each behind REPORT_HEADER bytes (count-push-batch.lua
 * reads them with struct.unpack), encoded in place. One argument instead of five per report:
 * ioredis measures and copies each argument separately (about 10 µs per report in a profile of
 * a 16-report batch), and this also saves an allocation per report.
 */
function batchBlob(batch: readonly PendingPush[], compress: boolean): Buffer {
  let room = 0;
  for (const { item } of batch) room += REPORT_HEADER + 20 + HEAD_ALLOWANCE + item.body.byteLength;
  let blob = Buffer.allocUnsafe(room);
  let offset = 0;
  for (const { item } of batch) {
    const projectId = String(item.projectId);
    encodeItem(item, (size) => {
      const start = offset + REPORT_HEADER + projectId.length;
      if (start + size > blob.length) {
        const grown = Buffer.allocUnsafe(Math.max(2 * blob.length, start + size));
        blob.copy(grown, 0, 0, offset);
        blob = grown;
      }
      blob.writeUInt32LE(size, offset);
      blob.writeUInt32LE(itemBytes(item), offset + 4);
      blob[offset + 8] = projectId.length;
      blob.write(projectId, offset + REPORT_HEADER, "latin1");
      offset = start + size;
      return blob.subarray(start, offset);
    }, compress);
  }
  return blob.subarray(0, offset);
}

/** ioredis sends Buffers as binary but stringifies plain Uint8Arrays; wrap without copying. */
const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

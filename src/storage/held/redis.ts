/**
 * Held reports in Redis (STORAGE=redis): one list under the farm's hash tag (redis/keys.ts
 * heldKey), so one slot on a Cluster. A hold resolves once Redis has the element; any instance
 * of the farm whose keys have loaded admits what the list holds. An element is a random nonce
 * (so equal reports stay distinct for LREM), the meta's length, the meta, and the body.
 */
import type { RedisConnection } from "../../redis/connection.ts";
import { heldKey } from "../../redis/keys.ts";
import { StorageUnavailableError } from "../queue.ts";
import { fromHeldMeta, heldMeta, type HeldReport, type HeldStore, type StoredHeldReport } from "./store.ts";

const NONCE_BYTES = 16;

export class RedisHeldStore implements HeldStore {
  readonly kind = "redis" as const;
  private readonly key: string;
  private heldCount = 0;
  private heldBytes = 0;
  /** Each listed report's element, to remove exactly that one. */
  private readonly elements = new WeakMap<StoredHeldReport, Buffer>();

  constructor(
    private readonly connection: RedisConnection,
    prefix: string,
  ) {
    this.key = heldKey(prefix);
  }

  get count(): number {
    return this.heldCount;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  async hold(report: HeldReport): Promise<void> {
    await this.call(() => this.connection.client.rpush(this.key, encode(report)));
    this.heldCount++;
    this.heldBytes += report.body.byteLength;
  }

  async list(max: number): Promise<StoredHeldReport[]> {
    const raw = await this.call(() => this.connection.client.lrangeBuffer(this.key, 0, max - 1));
    return raw.map((element) => {
      const r = decode(element);
      this.elements.set(r, element);
      return r;
    });
  }

  async remove(reports: StoredHeldReport[]): Promise<void> {
    const found = reports.flatMap((r) => {
      const element = this.elements.get(r);
      return element === undefined ? [] : [{ r, element }];
    });
    if (found.length === 0) return;
    const pipeline = this.connection.client.pipeline();
    for (const { element } of found) pipeline.lrem(this.key, 1, element);
    const results = await this.call(() => pipeline.exec());
    found.forEach(({ r }, i) => {
      if (results?.[i]?.[1] !== 1) return; // removed already (another instance of the farm)
      // Counted by the instance that held it; never below zero here.
      this.heldCount = Math.max(0, this.heldCount - 1);
      this.heldBytes = Math.max(0, this.heldBytes - r.body.byteLength);
    });
  }

  private async call<T>(op: () => Promise<T>): Promise<T> {
    if (!this.connection.isReady) throw new StorageUnavailableError(this.connection.problem() ?? "Redis not connected");
    try {
      return await op();
    } catch (e) {
      throw new StorageUnavailableError(`Redis: ${(e as Error).message}`);
    }
  }
}

function encode(report: HeldReport): Buffer {
  const meta = Buffer.from(heldMeta(report));
  const out = Buffer.allocUnsafe(NONCE_BYTES + 4 + meta.byteLength + report.body.byteLength);
  crypto.getRandomValues(out.subarray(0, NONCE_BYTES));
  out.writeUInt32BE(meta.byteLength, NONCE_BYTES);
  meta.copy(out, NONCE_BYTES + 4);
  out.set(report.body, NONCE_BYTES + 4 + meta.byteLength);
  return out;
}

function decode(element: Buffer): StoredHeldReport {
  const metaLength = element.readUInt32BE(NONCE_BYTES);
  const metaEnd = NONCE_BYTES + 4 + metaLength;
  const id = element.subarray(0, NONCE_BYTES).toString("hex");
  return fromHeldMeta(id, element.subarray(NONCE_BYTES + 4, metaEnd).toString(), new Uint8Array(element.subarray(metaEnd)));
}

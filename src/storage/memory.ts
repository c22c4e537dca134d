/**
 * The queue in this process's memory (STORAGE=memory): fastest, lost on exit (the server drains
 * it on SIGTERM within SHUTDOWN_TIMEOUT).
 *
 * Order, fairness and bounds are RoundRobinIndex's (round-robin.ts): one deque per project, a
 * ring of projects rotated by `take`, newest-first = LIFO, and a released item is the next one
 * taken for its project.
 *
 * Each queued item is held as ONE Uint8Array: its metadata line and body, in the same encoding the
 * durable storages use (item.ts). A queue of objects (item, auth, strings, body) costs the garbage
 * collector several live objects per report and, measured under load, a third of ingest
 * throughput once a few hundred thousand reports wait; one buffer per item keeps the heap's object
 * count low and the memory per 2 KB event near 1.15× its bytes. Items are decoded only when the
 * forwarder takes them. Retry counts (rare) live beside, keyed by the buffer.
 */
import { decodeItem, encodeItem, itemBytes, type NewItem, type QueuedItem } from "./item.ts";
import { StorageUnavailableError, type Queue, type QueueLimits, type QueueStats, type TakeOptions } from "./queue.ts";
import { RoundRobinIndex } from "./round-robin.ts";

export class MemoryQueue implements Queue {
  readonly kind = "memory" as const;
  private readonly index: RoundRobinIndex<Uint8Array>;
  /** Leased items by the id handed out with them. */
  private readonly leased = new Map<string, Uint8Array>();
  /** Attempts of items that were released after a failure; absent means 0. */
  private readonly attempts = new WeakMap<Uint8Array, number>();
  /** Ids of items taken at least once, so a retried item keeps its id. */
  private readonly ids = new WeakMap<Uint8Array, string>();
  private nextId = 1;
  private closed = false;

  constructor(limits: QueueLimits) {
    this.index = new RoundRobinIndex<Uint8Array>(limits);
  }

  get approxItems(): number {
    return this.index.items;
  }

  push(item: NewItem): void {
    if (this.closed) throw new StorageUnavailableError("queue is closed");
    const bytes = itemBytes(item);
    this.index.reserve(bytes); // throws QueueFullError
    this.index.commit(item.projectId, encodeItem(item), bytes);
  }

  async take(max: number, opts?: TakeOptions): Promise<QueuedItem[]> {
    return this.index.take(max, opts?.isPaused).map((encoded) => {
      let id = this.ids.get(encoded);
      if (id === undefined) {
        id = String(this.nextId++);
        this.ids.set(encoded, id);
      }
      this.leased.set(id, encoded);
      const item = decodeItem(id, encoded);
      item.attempts = this.attempts.get(encoded) ?? 0;
      return item;
    });
  }

  async ack(item: QueuedItem): Promise<void> {
    const encoded = this.leased.get(item.id);
    if (encoded === undefined) return;
    this.leased.delete(item.id);
    this.index.forget(encoded);
  }

  async release(item: QueuedItem, failed: boolean): Promise<void> {
    const encoded = this.leased.get(item.id);
    if (encoded === undefined) return;
    this.leased.delete(item.id);
    if (failed) this.attempts.set(encoded, item.attempts + 1);
    this.index.putBack(encoded);
  }

  async stats(): Promise<QueueStats> {
    return this.index.stats();
  }

  problem(): string | null {
    return null;
  }

  /** Refuses further pushes; queued items stay readable so shutdown can still drain them. */
  async close(): Promise<void> {
    this.closed = true;
  }
}

/**
 * The queue in this process's memory (STORAGE=memory): fastest, lost on exit (the server drains
 * it on SIGTERM within SHUTDOWN_TIMEOUT).
 *
 * Order, fairness and bounds are RoundRobinIndex's (round-robin.ts): one deque per project, a
 * ring of projects rotated by `take`, newest-first = LIFO, and a released item is the next one
 * taken for its project.
 *
 * Each queued report is its metadata line and body, in the encoding the durable storages use
 * (item.ts), packed into reused slabs (slab-arena.ts): no allocation per report on the ingest
 * path, and close to 1× its bytes in memory. Items are decoded only when the forwarder takes
 * them; retry counts (rare) live beside, keyed by the queued entry.
 */
import { decodeItem, encodeItem, itemBytes, type NewItem, type QueuedItem } from "./item.ts";
import { QueueFullError, StorageUnavailableError, type Queue, type QueueLimits, type QueueStats, type TakeOptions } from "./queue.ts";
import { RoundRobinIndex } from "./round-robin.ts";
import { SLAB_BYTES, SlabArena, type Handle } from "./slab-arena.ts";

export class MemoryQueue implements Queue {
  readonly kind = "memory" as const;
  /** Handles into the arena: numbers, so the collector has nothing to scan in a queue of any length. */
  private readonly index: RoundRobinIndex;
  private readonly arena = new SlabArena();
  /**
   * Slabs pinned by a few long-waiting reports hold more than the reports' bytes; past twice the
   * byte bound (plus slack for the slabs being filled) the queue refuses, so memory stays bounded.
   */
  private readonly maxArenaBytes: number;
  /** Leased items by the id handed out with them. */
  private readonly leased = new Map<string, Handle>();
  /** Attempts of items that were released after a failure; absent means 0. Deleted on ack. */
  private readonly attempts = new Map<Handle, number>();
  /** Ids of items taken at least once, so a retried item keeps its id. Deleted on ack (the handle is reused). */
  private readonly ids = new Map<Handle, string>();
  private nextId = 1;
  private closed = false;

  constructor(limits: QueueLimits) {
    this.index = new RoundRobinIndex(limits);
    this.maxArenaBytes = 2 * limits.maxBytes + 8 * SLAB_BYTES;
  }

  get approxItems(): number {
    return this.index.items;
  }

  push(item: NewItem): void {
    if (this.closed) throw new StorageUnavailableError("queue is closed");
    const bytes = itemBytes(item);
    if (this.arena.bytes > this.maxArenaBytes) throw new QueueFullError("bytes");
    this.index.reserve(bytes); // throws QueueFullError
    let stored = -1;
    encodeItem(item, (size) => this.arena.view((stored = this.arena.allocate(size))));
    this.index.commit(item.projectId, stored, bytes);
  }

  async take(max: number, opts?: TakeOptions): Promise<QueuedItem[]> {
    return this.index.take(max, opts?.isPaused).map((stored) => {
      let id = this.ids.get(stored);
      if (id === undefined) {
        id = String(this.nextId++);
        this.ids.set(stored, id);
      }
      this.leased.set(id, stored);
      // The body stays a view into the slab (no copy per send): the slot is the item's until ack.
      const item = decodeItem(id, this.arena.view(stored), true);
      item.attempts = this.attempts.get(stored) ?? 0;
      return item;
    });
  }

  async ack(item: QueuedItem): Promise<void> {
    const stored = this.leased.get(item.id);
    if (stored === undefined) return;
    this.leased.delete(item.id);
    this.index.forget(stored);
    this.ids.delete(stored);
    this.attempts.delete(stored);
    this.arena.free(stored);
  }

  async release(item: QueuedItem, failed: boolean): Promise<void> {
    const stored = this.leased.get(item.id);
    if (stored === undefined) return;
    this.leased.delete(item.id);
    if (failed) this.attempts.set(stored, item.attempts + 1);
    this.index.putBack(stored);
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

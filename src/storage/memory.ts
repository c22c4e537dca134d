/**
 * The queue in this process's memory (STORAGE=memory): fastest, lost on exit (the server drains
 * it on SIGTERM within SHUTDOWN_TIMEOUT).
 *
 * Order, fairness and bounds are RoundRobinIndex's (round-robin.ts): one deque per project, a
 * ring of projects rotated by `take`, newest-first = LIFO, and a released item is the next one
 * taken for its project.
 *
 * Memory: the body handed to `push` is kept, not copied (the pipeline does not reuse it); the
 * metadata is one fixed-shape object. A 2 KB event costs ~2.5 KB of heap.
 */
import { itemBytes, type NewItem, type QueuedItem } from "./item.ts";
import { StorageUnavailableError, type Queue, type QueueLimits, type QueueStats, type TakeOptions } from "./queue.ts";
import { RoundRobinIndex } from "./round-robin.ts";

export class MemoryQueue implements Queue {
  readonly kind = "memory" as const;
  private readonly index: RoundRobinIndex<QueuedItem, string>;
  private nextId = 1;
  private closed = false;

  constructor(limits: QueueLimits) {
    this.index = new RoundRobinIndex<QueuedItem, string>(limits, (item) => item.id);
  }

  get approxItems(): number {
    return this.index.items;
  }

  push(item: NewItem): void {
    if (this.closed) throw new StorageUnavailableError("queue is closed");
    const bytes = itemBytes(item);
    this.index.reserve(bytes); // throws QueueFullError
    this.index.commit(item.projectId, toQueued(item, String(this.nextId++)), bytes);
  }

  async take(max: number, opts?: TakeOptions): Promise<QueuedItem[]> {
    return this.index.take(max, opts?.isPaused);
  }

  async ack(item: QueuedItem): Promise<void> {
    this.index.forget(item.id);
  }

  async release(item: QueuedItem, failed: boolean): Promise<void> {
    const held = this.index.putBack(item.id);
    if (held !== undefined && failed) held.attempts = item.attempts + 1;
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

/** One fixed-shape object per item (same field order every time, so engines share its layout). */
function toQueued(item: NewItem, id: string): QueuedItem {
  return {
    id,
    attempts: 0,
    projectId: item.projectId,
    endpoint: item.endpoint,
    auth: item.auth,
    clientIp: item.clientIp,
    contentType: item.contentType,
    body: item.body,
    eventId: item.eventId,
    receivedAt: item.receivedAt,
  };
}

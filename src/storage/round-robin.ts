/**
 * The in-process queue bookkeeping shared by MemoryQueue (values are arena handles) and
 * SqliteQueue (values are row ids): numbers both, kept in typed arrays (Deque.ofNumbers) so a
 * queue of any length gives the garbage collector nothing to scan. One deque per project, a ring
 * of projects with queued values rotated by `take` for fairness, the leases, and the item/byte
 * totals that enforce the bounds.
 *
 * Values are appended at the back; newest-first takes from the back (LIFO), oldest-first from
 * the front (FIFO). A released value goes back at the end `take` reads from, so a retry is the
 * next one sent for its project instead of waiting behind a storm that arrived meanwhile.
 *
 * Totals include leased values (they still occupy the queue until acked) and values reserved by
 * pushes not yet committed (SQLite group commit), so the bounds hold at every moment.
 */
import { Deque } from "./deque.ts";
import { QueueFullError, statsOfProjects, type QueueLimits, type QueueStats } from "./queue.ts";

interface ProjectQueue {
  readonly projectId: number;
  /**
   * Queued values, each followed by its byte size: one deque, not two in step, so a project costs
   * one deque and one typed array fewer to reach (and for the collector to revisit once written)
   * when thousands of projects take turns.
   */
  readonly entries: Deque<number>;
  /** Items and bytes of this project, queued and leased. */
  items: number;
  bytes: number;
  /** Whether it is in the ring (has queued, not only leased, values). */
  inRing: boolean;
}

/** Projects kept with nothing queued, ready for their next report (see `forget`). */
export const MAX_IDLE_PROJECTS = 10_000;

interface Lease {
  project: ProjectQueue;
  bytes: number;
}

export class RoundRobinIndex {
  private readonly projects = new Map<number, ProjectQueue>();
  /** Projects with queued values, in serving order: the front is served next. */
  // Project ids, not the projects: a ring of objects rewritten on every take had the next young
  // collection revisit all its slots (5,000 projects: 5,000 pointers); numbers it skips.
  private readonly ring = Deque.ofNumbers();
  /** By value (values are unique while queued or leased). */
  private readonly leases = new Map<number, Lease>();
  private totalItems = 0;
  private totalBytes = 0;

  constructor(private readonly limits: QueueLimits) {}

  /** Items held: queued, leased and reserved. */
  get items(): number {
    return this.totalItems;
  }

  /** Claims room for one item of `bytes`, or throws QueueFullError. */
  reserve(bytes: number): void {
    if (this.totalItems + 1 > this.limits.maxItems) throw new QueueFullError("items");
    if (this.totalBytes + bytes > this.limits.maxBytes) throw new QueueFullError("bytes");
    this.totalItems++;
    this.totalBytes += bytes;
  }

  /** Gives back a reservation whose write failed. */
  unreserve(bytes: number): void {
    this.totalItems--;
    this.totalBytes -= bytes;
  }

  /** Queues a value whose room was reserved. */
  commit(projectId: number, value: number, bytes: number): void {
    const project = this.project(projectId);
    project.entries.pushBack(value);
    project.entries.pushBack(bytes);
    project.items++;
    project.bytes += bytes;
    this.enterRing(project);
  }

  /** Queues a value regardless of the bounds (reloading what a durable storage already holds). */
  add(projectId: number, value: number, bytes: number): void {
    this.totalItems++;
    this.totalBytes += bytes;
    this.commit(projectId, value, bytes);
  }

  /** Leases up to `max` values, one per non-paused project in turn. */
  take(max: number, isPaused?: (projectId: number) => boolean): number[] {
    const out: number[] = [];
    // Stop after a full turn of the ring that yielded nothing (everything left is paused).
    let idle = 0;
    while (out.length < max && this.ring.length > 0 && idle < this.ring.length) {
      const project = this.projects.get(this.ring.popFront()!)!;
      if (isPaused?.(project.projectId)) {
        this.ring.pushBack(project.projectId);
        idle++;
        continue;
      }
      idle = 0;
      const entries = project.entries;
      let value: number;
      let bytes: number;
      if (this.limits.newestFirst) {
        bytes = entries.popBack()!;
        value = entries.popBack()!;
      } else {
        value = entries.popFront()!;
        bytes = entries.popFront()!;
      }
      this.leases.set(value, { project, bytes });
      out.push(value);
      if (entries.length > 0) this.ring.pushBack(project.projectId);
      else project.inRing = false;
    }
    return out;
  }

  /** Ends a lease for good (ack); returns the value, or undefined when not leased. */
  forget(key: number): number | undefined {
    const lease = this.leases.get(key);
    if (lease === undefined) return undefined;
    this.leases.delete(key);
    const { project, bytes } = lease;
    project.items--;
    project.bytes -= bytes;
    // An emptied project keeps its deques for its next report: with thousands of projects and a
    // queue that drains as fast as it fills, dropping them cost two typed arrays and an object per
    // report, and their garbage. Past the bound, emptied ones go (any project id may be claimed).
    if (project.items === 0 && this.projects.size > MAX_IDLE_PROJECTS) this.projects.delete(project.projectId);
    this.totalItems--;
    this.totalBytes -= bytes;
    return key;
  }

  /** Ends a lease by queueing the value again, next in line for its project. */
  putBack(key: number): number | undefined {
    const lease = this.leases.get(key);
    if (lease === undefined) return undefined;
    this.leases.delete(key);
    const { project, bytes } = lease;
    if (this.limits.newestFirst) {
      project.entries.pushBack(key);
      project.entries.pushBack(bytes);
    } else {
      project.entries.pushFront(bytes);
      project.entries.pushFront(key);
    }
    this.enterRing(project);
    return key;
  }

  stats(): QueueStats {
    const perProject = new Map<number, { items: number; bytes: number }>();
    for (const p of this.projects.values()) if (p.items > 0) perProject.set(p.projectId, { items: p.items, bytes: p.bytes });
    return statsOfProjects(perProject);
  }

  private project(projectId: number): ProjectQueue {
    let p = this.projects.get(projectId);
    if (p === undefined) {
      p = { projectId, entries: Deque.ofNumbers(), items: 0, bytes: 0, inRing: false };
      this.projects.set(projectId, p);
    }
    return p;
  }

  private enterRing(project: ProjectQueue): void {
    if (project.inRing) return;
    project.inRing = true;
    this.ring.pushBack(project.projectId);
  }
}

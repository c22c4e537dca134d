/**
 * A durable spool in one SQLite file (STORAGE=sqlite), owned by one cyclops process.
 *
 * Durability: WAL with synchronous=NORMAL (default). A committed push survives the process being
 * killed (kill -9, OOM, crash): the WAL is in the OS page cache, which outlives the process. A
 * power loss or kernel panic can lose the last commits; `synchronous: "FULL"` closes that gap at
 * the cost of an fsync per commit (which blocks the event loop: bun:sqlite is synchronous).
 *
 * Group commit: `push` queues the row and resolves only after the transaction holding it is
 * committed. All pushes, acks and releases arriving within one event-loop turn (setImmediate) are
 * written in one transaction, so one commit serves every request handled in that turn.
 *
 * Order and fairness: the process owns the file (locking_mode=EXCLUSIVE refuses a second
 * process), so the per-project order lives in memory: a deque of row ids per project, rebuilt
 * from the table at open, plus the same round-robin ring as the memory queue. `take` then reads
 * rows by primary key, and no index besides the rowid is needed.
 *
 * Leases are in memory only: at restart every taken-but-unacked row is queued again (at least once).
 *
 * Space (sqlite-file.ts, sqlite-space.ts): freed pages are reused and given back after a storm;
 * a full disk heals with a reserve file while new reports are refused. The files are 0600.
 */
import type { Database } from "bun:sqlite";
import type { NewItem, QueuedItem } from "./item.ts";
import { giveBackSpace, openSpoolFile, readMeta, SpoolStatements, toItem, vacuumSome, writeMeta } from "./sqlite-file.ts";
import { isDiskFull, SpoolSpace } from "./sqlite-space.ts";
import { StorageUnavailableError, type Queue, type QueueLimits, type QueueStats, type TakeOptions } from "./queue.ts";
import { RoundRobinIndex } from "./round-robin.ts";
import { emptyBatch, pastTurnBytes, type Batch, type PendingPush, type PendingWrite } from "./sqlite-batch.ts";

export interface SqliteQueueOptions {
  /** NORMAL survives process crashes; FULL also survives power loss (fsync per commit). */
  synchronous?: "NORMAL" | "FULL";
  /** Largest the file may grow; past it pushes fail as on a full disk. Default: unbounded. */
  maxFileBytes?: number;
  /** Room kept beside the spool for deletes on a full disk (sqlite-space.ts). Default RESERVE_BYTES. */
  reserveBytes?: number;
}

/** Seconds a client is asked to wait while the disk is full. */
const FULL_RETRY_AFTER = 30;
/** Run incremental_vacuum after this many deletes (sqlite-file.ts). */
const VACUUM_EVERY = 1000;

export class SqliteQueue implements Queue {
  readonly kind = "sqlite" as const;
  /** The spool's connection, also for stores kept in its file (held/sqlite.ts): the process owns the file. */
  readonly db: Database;
  private readonly index: RoundRobinIndex;
  private readonly st: SpoolStatements;
  private batch = emptyBatch();
  private flushScheduled = false;
  private deletesSinceVacuum = 0;
  private lastError: string | null = null;
  private closed = false;
  private readonly space: SpoolSpace;
  /** The disk is full: new reports are refused until the reserve can be written again. */
  private full = false;
  /** Deletes a failed write could not commit: tried again with the next write. */
  private unwrittenDeletes: number[] = [];

  constructor(
    readonly path: string,
    limits: QueueLimits,
    options: SqliteQueueOptions = {},
  ) {
    this.index = new RoundRobinIndex(limits);
    this.space = new SpoolSpace(path, options.reserveBytes);
    let db: Database | null = null;
    try {
      db = this.db = openSpoolFile(path, this.space.secureFiles(), options);
      this.st = new SpoolStatements(this.db);
      this.st.eachRow((id, projectId, size) => this.index.add(projectId, id, size));
      // Started on a full disk: serve what the spool holds, take nothing new until room returns.
      if (!this.space.ensureReserve()) this.becomeFull();
    } catch (e) {
      db?.close();
      throw new StorageUnavailableError(`cannot open SQLite spool ${path}: ${(e as Error).message}`);
    }
  }

  get approxItems(): number {
    return this.index.items;
  }

  push(item: NewItem): Promise<void> {
    if (this.closed) return Promise.reject(new StorageUnavailableError("queue is closed"));
    if (this.full && !this.heal()) return Promise.reject(new StorageUnavailableError(this.fullMessage(), FULL_RETRY_AFTER));
    try {
      this.index.reserve(item.body.byteLength); // throws QueueFullError
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      this.batch.pushes.push({ item, resolve, reject });
      this.scheduleFlush();
    });
  }

  /**
   * Runs `write` in the next group commit's transaction (the held reports, held/sqlite.ts) and
   * resolves once committed; refused as a push is on a full disk unless it `frees` (a delete).
   */
  commitWith(write: (db: Database) => void, frees = false): Promise<void> {
    if (this.closed) return Promise.reject(new StorageUnavailableError("queue is closed"));
    if (!frees && this.full && !this.heal()) return Promise.reject(new StorageUnavailableError(this.fullMessage(), FULL_RETRY_AFTER));
    return new Promise<void>((resolve, reject) => {
      this.batch.writes.push({ write, frees, resolve, reject });
      this.scheduleFlush();
    });
  }

  async take(max: number, opts?: TakeOptions): Promise<QueuedItem[]> {
    if (this.closed) return [];
    const out: QueuedItem[] = [];
    for (const id of this.index.take(max, opts?.isPaused)) {
      const row = this.st.selectOne.get(id);
      if (row === null) {
        this.index.forget(id); // cannot happen while we own the file; keep the totals right
        continue;
      }
      const item = toItem(row);
      item.attempts = this.batch.attempts.get(id) ?? item.attempts;
      out.push(item);
    }
    return out;
  }

  ack(item: QueuedItem): Promise<void> {
    if (this.closed) return Promise.reject(new StorageUnavailableError("queue is closed"));
    const id = Number(item.id);
    if (this.index.forget(id) === undefined) return Promise.resolve();
    this.batch.deletes.push(id);
    return this.whenFlushed();
  }

  release(item: QueuedItem, failed: boolean): Promise<void> {
    if (this.closed) return Promise.reject(new StorageUnavailableError("queue is closed"));
    const id = Number(item.id);
    if (this.index.putBack(id) === undefined) return Promise.resolve();
    if (!failed) return Promise.resolve();
    this.batch.attempts.set(id, item.attempts + 1);
    return this.whenFlushed();
  }

  async stats(): Promise<QueueStats> {
    return this.index.stats();
  }

  readMeta = (name: string): string | null => readMeta(this.db, name);
  writeMeta = (name: string, value: string): void => writeMeta(this.db, name, value);

  /** Probes on its own (at most once a second), so /healthcheck turns 200 without a report sent. */
  problem(): string | null {
    if (this.closed) return "SQLite spool is closed";
    if (this.full || this.lastError !== null) this.heal();
    return this.full ? this.fullMessage() : this.lastError;
  }

  private fullMessage = (): string => `SQLite spool ${this.path}: disk full, refusing new reports until space returns`;

  private becomeFull(): void {
    this.full = true;
    this.space.release();
    this.space.probeDue(true);
  }

  /**
   * A full or failing spool tries to become writable again: room for two reserves, the reserve
   * written again, then a one-page write. True when healed. Rate-limited; never throws.
   */
  private heal(): boolean {
    if (this.closed || !this.space.probeDue()) return false;
    if (this.full && (this.space.isLow(2) || !this.space.ensureReserve())) return false;
    try {
      this.db.exec(`PRAGMA user_version = ${(Date.now() / 1000) | 0}`);
    } catch {
      return false;
    }
    this.full = false;
    this.lastError = null;
    if (this.unwrittenDeletes.length > 0) this.scheduleFlush();
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    do this.flush();
    while (this.batch.pushes.length > 0);
    this.closed = true;
    this.st.finalize();
    this.db.close();
  }

  private whenFlushed(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.batch.done.push({ resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /**
   * Writes the batch in one transaction: all of it is committed, or none of it. When that fails,
   * the pushes are refused and the deletes and releases are written on their own: on a full disk
   * the reserve has just been given back for them (sqlite-space.ts).
   */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.batch;
    this.batch = emptyBatch();
    if (this.unwrittenDeletes.length > 0) {
      batch.deletes.push(...this.unwrittenDeletes);
      this.unwrittenDeletes = [];
    }
    const later = pastTurnBytes(batch);
    if (later.length > 0) {
      this.batch.pushes.push(...later);
      this.scheduleFlush();
    }
    if (batch.pushes.length + batch.writes.length + batch.deletes.length + batch.attempts.size === 0) {
      for (const d of batch.done) d.resolve();
      return;
    }
    const ids: number[] = [];
    let error = this.write(batch.pushes, batch.writes, batch, ids);
    if (error === null) {
      this.lastError = null;
      batch.pushes.forEach((p, i) => {
        this.index.commit(p.item.projectId, ids[i]!, p.item.body.byteLength);
        p.resolve();
      });
      for (const w of batch.writes) w.resolve();
    } else {
      if (isDiskFull(error) && this.space.isLow()) this.becomeFull();
      else {
        this.lastError = `SQLite spool ${this.path} unwritable: ${error.message}`;
        this.space.probeDue(true);
      }
      const refused = new StorageUnavailableError(this.full ? this.fullMessage() : this.lastError!, this.full ? FULL_RETRY_AFTER : undefined);
      for (const p of batch.pushes) {
        this.index.unreserve(p.item.body.byteLength);
        p.reject(refused);
      }
      const frees = batch.writes.filter((w) => w.frees);
      for (const w of batch.writes) if (!w.frees) w.reject(refused);
      if (frees.length + batch.deletes.length + batch.attempts.size > 0) error = this.write([], frees, batch, []);
      for (const w of frees) error === null ? w.resolve() : w.reject(refused);
    }
    if (error !== null && batch.deletes.length + batch.attempts.size > 0) {
      // Acks and releases already changed the in-memory view this process serves from, so they
      // succeed: the deletes are written once there is room (until then a restart re-delivers
      // those rows, at-least-once as after a crash); a lost attempt count is harmless.
      this.unwrittenDeletes.push(...batch.deletes);
      if (this.lastError === null) this.lastError = `SQLite spool ${this.path} unwritable: ${error.message}`;
      for (const d of batch.done) d.resolve();
      return;
    }
    for (const d of batch.done) d.resolve();
    if (this.full) giveBackSpace(this.db);
    else if ((this.deletesSinceVacuum += batch.deletes.length) >= VACUUM_EVERY) {
      this.deletesSinceVacuum = 0;
      vacuumSome(this.db);
    }
  }

  /** One transaction; returns its error instead of throwing. */
  private write(pushes: PendingPush[], writes: PendingWrite[], batch: Batch, ids: number[]): Error | null {
    try {
      this.db.transaction(() => {
        for (const { item } of pushes) ids.push(this.st.insert(item));
        for (const w of writes) w.write(this.db);
        for (const id of batch.deletes) this.st.remove.run(id);
        for (const [id, attempts] of batch.attempts) this.st.setAttempts.run(attempts, id);
      })();
      return null;
    } catch (e) {
      ids.length = 0;
      return e as Error;
    }
  }
}

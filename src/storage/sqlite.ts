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
 * Leases are in memory only: at restart every taken-but-unacked row is queued again
 * (at-least-once delivery after a crash).
 *
 * Space: auto_vacuum=INCREMENTAL (set when the file is created). Deleted pages go to the freelist
 * and are reused by later pushes; after a storm drains, `incremental_vacuum` gives them back to
 * the filesystem, and journal_size_limit truncates the WAL after checkpoints.
 */
import { Database, type Statement } from "bun:sqlite";
import type { NewItem, QueuedItem } from "./item.ts";
import { StorageUnavailableError, type Queue, type QueueLimits, type QueueStats, type TakeOptions } from "./queue.ts";
import { RoundRobinIndex } from "./round-robin.ts";

export interface SqliteQueueOptions {
  /** NORMAL survives process crashes; FULL also survives power loss (fsync per commit). */
  synchronous?: "NORMAL" | "FULL";
  /** Largest the file may grow; past it pushes fail as on a full disk. Default: unbounded. */
  maxFileBytes?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS items (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL,
  endpoint TEXT NOT NULL,
  content_type TEXT NOT NULL,
  public_key TEXT NOT NULL,
  secret_key TEXT,
  client TEXT,
  version INTEGER NOT NULL,
  client_ip TEXT,
  event_id TEXT,
  received_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL,
  body BLOB NOT NULL
)`;

interface Row {
  id: number;
  project_id: number;
  endpoint: "store" | "envelope";
  content_type: string;
  public_key: string;
  secret_key: string | null;
  client: string | null;
  version: number;
  client_ip: string | null;
  event_id: string | null;
  received_at: number;
  attempts: number;
  body: Uint8Array;
}

interface PendingPush {
  item: NewItem;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Ops collected during one event-loop turn, written in one transaction. */
interface Batch {
  pushes: PendingPush[];
  deletes: number[];
  /** id → new attempt count; also read by `take` so a release is visible before its commit. */
  attempts: Map<number, number>;
  done: Array<{ resolve: () => void; reject: (e: Error) => void }>;
}

const emptyBatch = (): Batch => ({ pushes: [], deletes: [], attempts: new Map(), done: [] });
/** Run incremental_vacuum after this many deletes when a quarter of the file is free. */
const VACUUM_EVERY = 1000;

export class SqliteQueue implements Queue {
  readonly kind = "sqlite" as const;
  private readonly db: Database;
  private readonly index: RoundRobinIndex;
  private readonly insert: Statement;
  private readonly remove: Statement;
  private readonly setAttempts: Statement;
  private readonly selectOne: Statement<Row, [number]>;
  private batch = emptyBatch();
  private flushScheduled = false;
  private deletesSinceVacuum = 0;
  private lastError: string | null = null;
  private closed = false;

  constructor(
    readonly path: string,
    limits: QueueLimits,
    options: SqliteQueueOptions = {},
  ) {
    this.index = new RoundRobinIndex(limits);
    let db: Database | null = null;
    try {
      db = this.db = new Database(path, { create: true, readwrite: true, strict: true });
      this.db.exec("PRAGMA locking_mode = EXCLUSIVE");
      // Both only take effect on a new file. 8 KB pages hold three 2 KB events (4 KB pages: one).
      this.db.exec("PRAGMA page_size = 8192");
      this.db.exec("PRAGMA auto_vacuum = INCREMENTAL");
      this.db.exec("PRAGMA journal_mode = WAL");
      this.db.exec(`PRAGMA synchronous = ${options.synchronous === "FULL" ? "FULL" : "NORMAL"}`);
      this.db.exec("PRAGMA journal_size_limit = 67108864");
      this.db.exec(SCHEMA);
      if (options.maxFileBytes !== undefined) {
        const pages = Math.max(1, Math.floor(options.maxFileBytes / this.pragma("page_size")));
        this.db.exec(`PRAGMA max_page_count = ${pages}`);
      }
      this.insert = this.db.prepare(
        `INSERT INTO items (project_id, endpoint, content_type, public_key, secret_key, client, version,
           client_ip, event_id, received_at, size, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      this.remove = this.db.prepare("DELETE FROM items WHERE id = ?");
      this.setAttempts = this.db.prepare("UPDATE items SET attempts = ? WHERE id = ?");
      this.selectOne = this.db.prepare<Row, [number]>(
        `SELECT id, project_id, endpoint, content_type, public_key, secret_key, client, version,
           client_ip, event_id, received_at, attempts, body FROM items WHERE id = ?`,
      );
      const existing = this.db.prepare<{ id: number; project_id: number; size: number }, []>(
        "SELECT id, project_id, size FROM items ORDER BY id",
      );
      for (const row of existing.iterate()) this.index.add(row.project_id, row.id, row.size);
      existing.finalize();
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

  async take(max: number, opts?: TakeOptions): Promise<QueuedItem[]> {
    if (this.closed) return [];
    const out: QueuedItem[] = [];
    for (const id of this.index.take(max, opts?.isPaused)) {
      const row = this.selectOne.get(id);
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

  problem(): string | null {
    if (this.closed) return "SQLite spool is closed";
    return this.lastError;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    // Unfinalized statements would keep the file open (and its exclusive lock held).
    for (const st of [this.insert, this.remove, this.setAttempts, this.selectOne]) st.finalize();
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

  /** Writes the batch in one transaction: all of it is committed, or none of it. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.batch;
    this.batch = emptyBatch();
    if (batch.pushes.length + batch.deletes.length + batch.attempts.size === 0) {
      for (const d of batch.done) d.resolve();
      return;
    }
    const ids: number[] = [];
    try {
      this.db.transaction(() => {
        for (const { item } of batch.pushes) ids.push(this.insertRow(item));
        for (const id of batch.deletes) this.remove.run(id);
        for (const [id, attempts] of batch.attempts) this.setAttempts.run(attempts, id);
      })();
    } catch (e) {
      this.lastError = `SQLite spool ${this.path} unwritable: ${(e as Error).message}`;
      const error = new StorageUnavailableError(this.lastError);
      for (const p of batch.pushes) {
        this.index.unreserve(p.item.body.byteLength);
        p.reject(error);
      }
      // Acks and releases already changed the in-memory view; their rows are re-delivered at
      // worst (a lost delete) or keep their old attempt count: both safe.
      for (const d of batch.done) d.reject(error);
      return;
    }
    this.lastError = null;
    batch.pushes.forEach((p, i) => {
      this.index.commit(p.item.projectId, ids[i]!, p.item.body.byteLength);
      p.resolve();
    });
    for (const d of batch.done) d.resolve();
    this.maybeVacuum(batch.deletes.length);
  }

  private pragma(name: "page_size" | "page_count" | "freelist_count"): number {
    const st = this.db.prepare<Record<string, number>, []>(`PRAGMA ${name}`);
    try {
      return st.get()?.[name] ?? 0;
    } finally {
      st.finalize();
    }
  }

  readMeta(name: string): string | null {
    this.db.exec(META_SCHEMA);
    return this.db.query<{ value: string }, [string]>("SELECT value FROM meta WHERE name = ?").get(name)?.value ?? null;
  }

  writeMeta(name: string, value: string): void {
    this.db.exec(META_SCHEMA);
    this.db.query("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value").run(name, value);
  }

  private insertRow(item: NewItem): number {
    const { auth } = item;
    return Number(
      this.insert.run(
        item.projectId, item.endpoint, item.contentType, auth.publicKey, auth.secretKey, auth.client,
        auth.version, item.clientIp, item.eventId, item.receivedAt, item.body.byteLength, item.body,
      ).lastInsertRowid,
    );
  }

  private maybeVacuum(deleted: number): void {
    this.deletesSinceVacuum += deleted;
    if (this.deletesSinceVacuum < VACUUM_EVERY) return;
    this.deletesSinceVacuum = 0;
    try {
      const free = this.pragma("freelist_count");
      const pages = this.pragma("page_count");
      if (free * 4 > pages) this.db.exec(`PRAGMA incremental_vacuum(${Math.ceil(free / 2)})`);
    } catch {
      // Reclaiming space is best effort; the freelist is reused by later pushes anyway.
    }
  }
}

/** Small named documents beside the queue (readMeta/writeMeta); created on first use. */
const META_SCHEMA = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)";

function toItem(row: Row): QueuedItem {
  return {
    id: String(row.id),
    attempts: row.attempts,
    projectId: row.project_id,
    endpoint: row.endpoint,
    auth: { publicKey: row.public_key, secretKey: row.secret_key, client: row.client, version: row.version },
    clientIp: row.client_ip,
    contentType: row.content_type,
    body: row.body,
    eventId: row.event_id,
    receivedAt: row.received_at,
  };
}

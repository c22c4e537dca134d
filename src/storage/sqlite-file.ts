/**
 * The spool's file: opening it with its pragmas, its table, how a row becomes a queued item, and
 * giving freed space back to the filesystem. The queue over it is sqlite.ts.
 */
import { Database, type Statement } from "bun:sqlite";
import type { NewItem, QueuedItem } from "./item.ts";

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

export interface Row {
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

export function toItem(row: Row): QueuedItem {
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

export interface SpoolFileOptions {
  synchronous?: "NORMAL" | "FULL";
  maxFileBytes?: number;
}

/** Opens (creating when `fresh`) the spool's database; closes it again if any step fails. */
export function openSpoolFile(path: string, fresh: boolean, options: SpoolFileOptions): Database {
  const db = new Database(path, { create: true, readwrite: true, strict: true });
  try {
    // Before the first WAL access: the WAL index then lives in heap memory, no -shm file.
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    if (fresh) {
      // Both only take effect on a new file, and on a full disk the second fails even on an old
      // one. 8 KB pages hold three 2 KB events (4 KB pages: one).
      db.exec("PRAGMA page_size = 8192");
      db.exec("PRAGMA auto_vacuum = INCREMENTAL");
    }
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${options.synchronous === "FULL" ? "FULL" : "NORMAL"}`);
    db.exec("PRAGMA journal_size_limit = 67108864");
    db.exec(SCHEMA);
    if (options.maxFileBytes !== undefined) {
      const pages = Math.max(1, Math.floor(options.maxFileBytes / pragma(db, "page_size")));
      db.exec(`PRAGMA max_page_count = ${pages}`);
    }
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

export function pragma(db: Database, name: "page_size" | "page_count" | "freelist_count"): number {
  const st = db.prepare<Record<string, number>, []>(`PRAGMA ${name}`);
  try {
    return st.get()?.[name] ?? 0;
  } finally {
    st.finalize();
  }
}

/** After a storm drains: half the free pages back to the filesystem when a quarter of the file is free. */
export function vacuumSome(db: Database): void {
  try {
    const free = pragma(db, "freelist_count");
    const pages = pragma(db, "page_count");
    if (free * 4 > pages) db.exec(`PRAGMA incremental_vacuum(${Math.ceil(free / 2)})`);
  } catch {
    // Reclaiming space is best effort; the freelist is reused by later pushes anyway.
  }
}

/** On a full disk: every free page and the WAL's length back to the filesystem at once. */
export function giveBackSpace(db: Database): void {
  try {
    db.exec("PRAGMA incremental_vacuum");
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch {
    // best effort: the next write or probe tries again
  }
}

/** The statements the queue runs, prepared once. */
export class SpoolStatements {
  private readonly insertOne: Statement;
  readonly remove: Statement;
  readonly setAttempts: Statement;
  readonly selectOne: Statement<Row, [number]>;

  constructor(private readonly db: Database) {
    this.insertOne = db.prepare(
      `INSERT INTO items (project_id, endpoint, content_type, public_key, secret_key, client, version,
         client_ip, event_id, received_at, size, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.remove = db.prepare("DELETE FROM items WHERE id = ?");
    this.setAttempts = db.prepare("UPDATE items SET attempts = ? WHERE id = ?");
    this.selectOne = db.prepare<Row, [number]>(
      `SELECT id, project_id, endpoint, content_type, public_key, secret_key, client, version,
         client_ip, event_id, received_at, attempts, body FROM items WHERE id = ?`,
    );
  }

  /** Inserts a row; returns its id. */
  insert(item: NewItem): number {
    const { auth } = item;
    return Number(
      this.insertOne.run(
        item.projectId,
        item.endpoint,
        item.contentType,
        auth.publicKey,
        auth.secretKey,
        auth.client,
        auth.version,
        item.clientIp,
        item.eventId,
        item.receivedAt,
        item.body.byteLength,
        item.body,
      ).lastInsertRowid,
    );
  }

  /** Every row's id, project and size in id order, for the in-memory index at open. */
  eachRow(fn: (id: number, projectId: number, size: number) => void): void {
    const existing = this.db.prepare<{ id: number; project_id: number; size: number }, []>("SELECT id, project_id, size FROM items ORDER BY id");
    try {
      for (const row of existing.iterate()) fn(row.id, row.project_id, row.size);
    } finally {
      existing.finalize();
    }
  }

  /** Unfinalized statements would keep the file open (and its exclusive lock held). */
  finalize(): void {
    for (const st of [this.insertOne, this.remove, this.setAttempts, this.selectOne]) st.finalize();
  }
}

/** Small named documents beside the queue (Queue.readMeta/writeMeta); created on first use. */
const META_SCHEMA = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)";

export function readMeta(db: Database, name: string): string | null {
  db.exec(META_SCHEMA);
  return db.query<{ value: string }, [string]>("SELECT value FROM meta WHERE name = ?").get(name)?.value ?? null;
}

export function writeMeta(db: Database, name: string, value: string): void {
  db.exec(META_SCHEMA);
  db.query("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value").run(name, value);
}

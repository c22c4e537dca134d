/**
 * Held reports in the SQLite spool's file (STORAGE=sqlite), table `held`: written with the
 * spool's group commit (SqliteQueue.commitWith), so a hold resolves, and the client is answered
 * 200, only once committed; refused like a push while the disk is full. A spool from before this
 * table gets it at first use (creating it fails on a full disk: holds are refused until it can).
 */
import type { SqliteQueue } from "../sqlite.ts";
import { StorageUnavailableError } from "../queue.ts";
import { fromHeldMeta, heldMeta, type HeldReport, type HeldStore, type StoredHeldReport } from "./store.ts";

const TABLE = "CREATE TABLE IF NOT EXISTS held (id INTEGER PRIMARY KEY, meta TEXT NOT NULL, body BLOB NOT NULL)";

export class SqliteHeldStore implements HeldStore {
  readonly kind = "sqlite" as const;
  private heldCount = 0;
  private heldBytes = 0;
  private tableReady = false;

  constructor(private readonly spool: SqliteQueue) {
    if (!this.ensureTable()) return;
    const totals = spool.db.query<{ n: number; bytes: number }, []>("SELECT count(*) AS n, coalesce(sum(length(body)), 0) AS bytes FROM held").get();
    this.heldCount = totals?.n ?? 0;
    this.heldBytes = totals?.bytes ?? 0;
  }

  get count(): number {
    return this.heldCount;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  hold(report: HeldReport): Promise<void> {
    if (!this.ensureTable()) return Promise.reject(new StorageUnavailableError(`SQLite spool ${this.spool.path}: cannot create the held reports' table`, 30));
    const meta = heldMeta(report);
    const body = report.body;
    return this.spool
      .commitWith((db) => db.query("INSERT INTO held (meta, body) VALUES (?, ?)").run(meta, body))
      .then(() => {
        this.heldCount++;
        this.heldBytes += body.byteLength;
      });
  }

  async list(max: number): Promise<StoredHeldReport[]> {
    if (!this.tableReady) return [];
    const rows = this.spool.db.query<{ id: number; meta: string; body: Uint8Array }, [number]>("SELECT id, meta, body FROM held ORDER BY id LIMIT ?").all(max);
    return rows.map((r) => fromHeldMeta(String(r.id), r.meta, r.body));
  }

  async remove(reports: StoredHeldReport[]): Promise<void> {
    if (reports.length === 0) return;
    let removed = 0;
    let bytes = 0;
    await this.spool.commitWith((db) => {
      removed = bytes = 0; // a transaction that failed runs again
      const st = db.query("DELETE FROM held WHERE id = ?");
      for (const r of reports) {
        if (st.run(Number(r.id)).changes === 0) continue;
        removed++;
        bytes += r.body.byteLength;
      }
    }, true);
    this.heldCount -= removed;
    this.heldBytes -= bytes;
  }

  /** True once the table exists (created now if need be). */
  private ensureTable(): boolean {
    if (this.tableReady) return true;
    try {
      this.spool.db.exec(TABLE);
      this.tableReady = true;
    } catch {
      // a full disk: tried again at the next hold
    }
    return this.tableReady;
  }
}

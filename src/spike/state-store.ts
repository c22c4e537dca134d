/**
 * Where the learned baselines wait across a restart: a row of the SQLite spool (STORAGE sqlite),
 * or a small JSON file (SPIKE_STATE_PATH, for memory or redis storage). Either holds one document,
 * SpikeLimiter.serialize's; a missing, unreadable or malformed one is reported and ignored, so a bad
 * state file can cost the learned limits, never the start.
 */
import { Database } from "bun:sqlite";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { SpikeState } from "./limiter.ts";

export interface SpikeStateStore {
  /** What was saved last, parsed; null when nothing was. Throws when it cannot be read or parsed. */
  load(): unknown;
  save(state: SpikeState): void;
  close(): void;
  /** For logs: where the state lives. */
  readonly where: string;
}

export class FileStateStore implements SpikeStateStore {
  constructor(private readonly path: string) {}

  get where(): string {
    return `file ${this.path}`;
  }

  load(): unknown {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
    return JSON.parse(text);
  }

  /** Written beside the file and renamed over it, so a crash mid-write leaves the last good state. */
  save(state: SpikeState): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(state));
    renameSync(temporary, this.path);
  }

  close(): void {}
}

/** A table of its own in the spool's file, on its own connection: the spool's code is untouched. */
export class SqliteStateStore implements SpikeStateStore {
  private readonly db: Database;

  constructor(private readonly path: string) {
    this.db = new Database(path, { create: true, readwrite: true });
    this.db.exec("PRAGMA busy_timeout = 2000");
    this.db.exec("CREATE TABLE IF NOT EXISTS spike_state (id INTEGER PRIMARY KEY CHECK (id = 1), saved_at INTEGER NOT NULL, state TEXT NOT NULL)");
  }

  get where(): string {
    return `table spike_state in ${this.path}`;
  }

  load(): unknown {
    const row = this.db.query<{ state: string }, []>("SELECT state FROM spike_state WHERE id = 1").get();
    return row ? JSON.parse(row.state) : null;
  }

  save(state: SpikeState): void {
    this.db.query("INSERT INTO spike_state (id, saved_at, state) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET saved_at = excluded.saved_at, state = excluded.state").run(state.savedAt, JSON.stringify(state));
  }

  close(): void {
    this.db.close();
  }
}

/** The store the configuration asks for: the spool with sqlite storage, else SPIKE_STATE_PATH's file, else none. */
export function stateStoreFor(config: { STORAGE: string; SQLITE_PATH: string; SPIKE_STATE_PATH: string | null }): SpikeStateStore | null {
  if (config.STORAGE === "sqlite") return new SqliteStateStore(config.SQLITE_PATH);
  if (config.SPIKE_STATE_PATH !== null) return new FileStateStore(config.SPIKE_STATE_PATH);
  return null;
}

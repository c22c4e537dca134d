/**
 * The one query that reads project keys out of Sentry's `sentry_projectkey`, shared by the SQLite,
 * PostgreSQL and MySQL sources. The table has changed shape over the years (docs/PROTOCOL.md §9):
 *
 *   2013   id, project_id, public_key, secret_key, user_id
 *   ~2014  + label, roles (bigint bitfield: 1 = store, 2 = api), user_added_id, date_added
 *   ~2015  + status (0 active, 1 inactive); user_* dropped
 *   ~2018  + rate_limit_count, rate_limit_window, data
 *   2023+  + use_case ("user", "profiling", …)
 *
 * so the SELECT is built from the columns that exist, found at each load (a Sentry upgrade may
 * add `status` between two loads), instead of assuming one era. Filters apply only where their
 * column exists: `status = 0` (the original accepted disabled keys), `(roles & 1) = 1` (keys
 * without the store role may not post events). `use_case` is not filtered: Relay accepts events
 * for every active store key whatever its use case.
 *
 * A backend (sqlite.ts, postgres.ts, mysql.ts) only knows how to open a connection, list a
 * table's columns and run a query; `SqlKeySource` does the rest, identically for all three.
 */
import type { KeySource, ProjectKey } from "./key-source.ts";
import { safeError, withTimeout } from "./redact.ts";

export const PROJECT_KEY_TABLE = "sentry_projectkey";
/** ProjectKeyStatus.ACTIVE */
export const ACTIVE_STATUS = 0;
/** Bit 0 of ProjectKey.roles: "access to post events to the store endpoint". */
export const STORE_ROLE = 1;
export const DEFAULT_LOAD_TIMEOUT_MS = 10_000;

export type Row = Record<string, unknown>;

/** One open connection to Sentry's database, opened for one load and closed after it. */
export interface SqlConnection {
  /** Column names of `table` (any case); empty when the table does not exist. */
  columns(table: string): Promise<string[]>;
  query(sql: string): Promise<Row[]>;
  /** Ends the connection; `force` when a load timed out and a query may still be running. */
  close(force: boolean): Promise<void>;
}

export interface SqlBackend {
  /** "sqlite", "postgres" or "mysql". */
  readonly name: string;
  /** Where the keys are read, for error messages: host:port/database or a file path. No secrets. */
  readonly location: string;
  /** Strings that must never appear in an error message (the password). */
  readonly secrets: ReadonlyArray<string>;
  connect(): Promise<SqlConnection>;
}

/** Connection settings of the PostgreSQL and MySQL sources. */
export interface SqlServerOptions {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** Whole-load deadline (connect + both queries). */
  timeoutMs?: number;
}

/**
 * The SELECT for a table with these columns. Throws when the table is missing or lacks the
 * columns every era has, with a message saying which.
 */
export function buildProjectKeyQuery(columns: Iterable<string>): string {
  const has = new Set<string>();
  for (const c of columns) has.add(c.toLowerCase());
  if (has.size === 0) throw new Error(`table ${PROJECT_KEY_TABLE} not found`);
  for (const required of ["project_id", "public_key"]) {
    if (!has.has(required)) throw new Error(`table ${PROJECT_KEY_TABLE} has no ${required} column`);
  }
  const secret = has.has("secret_key") ? "secret_key" : "NULL AS secret_key";
  const where = ["public_key IS NOT NULL"];
  if (has.has("status")) where.push(`status = ${ACTIVE_STATUS}`);
  if (has.has("roles")) where.push(`(roles & ${STORE_ROLE}) = ${STORE_ROLE}`);
  return `SELECT project_id, public_key, ${secret} FROM ${PROJECT_KEY_TABLE} WHERE ${where.join(" AND ")}`;
}

/** Drivers hand bigint columns over as number, bigint or string depending on their settings. */
function toProjectId(value: unknown): number | null {
  const n = typeof value === "number" ? value : typeof value === "bigint" || typeof value === "string" ? Number(value) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

function toKeyString(value: unknown): string | null {
  if (typeof value === "string") return value.length > 0 ? value : null;
  // MySQL binary collations and some SQLite files return bytes.
  if (value instanceof Uint8Array) return value.length > 0 ? new TextDecoder().decode(value) : null;
  return null;
}

/** Maps result rows to keys; rows that cannot be a usable key (no public key, bad project id) are skipped. */
export function rowsToProjectKeys(rows: Iterable<Row>): ProjectKey[] {
  const keys: ProjectKey[] = [];
  for (const row of rows) {
    const projectId = toProjectId(row.project_id);
    const publicKey = toKeyString(row.public_key);
    if (projectId === null || publicKey === null) continue;
    keys.push({ projectId, publicKey, secretKey: toKeyString(row.secret_key) });
  }
  return keys;
}

/** Column detection, the query and the mapping, on an open connection. */
export async function readProjectKeys(conn: SqlConnection): Promise<ProjectKey[]> {
  const sql = buildProjectKeyQuery(await conn.columns(PROJECT_KEY_TABLE));
  return rowsToProjectKeys(await conn.query(sql));
}

/**
 * A key source over any SQL backend. Each load opens a fresh connection and closes it after, so
 * a database restart between loads costs nothing (no stale pooled connection to notice), and a
 * load that hangs is cut off after `timeoutMs` and its connection torn down.
 */
export class SqlKeySource implements KeySource {
  readonly name: string;

  constructor(
    private readonly backend: SqlBackend,
    private readonly timeoutMs = DEFAULT_LOAD_TIMEOUT_MS,
  ) {
    this.name = backend.name;
  }

  async load(): Promise<ProjectKey[]> {
    let conn: SqlConnection | null = null;
    let timedOut = false;
    const work = (async () => {
      conn = await this.backend.connect();
      if (timedOut) {
        await conn.close(true);
        throw new Error("timed out");
      }
      try {
        return await readProjectKeys(conn);
      } finally {
        if (!timedOut) await conn.close(false).catch(() => {});
      }
    })();
    try {
      return await withTimeout(work, this.timeoutMs, () => {
        timedOut = true;
        (conn as SqlConnection | null)?.close(true).catch(() => {});
      });
    } catch (e) {
      throw safeError(this.backend.location, e, this.backend.secrets);
    }
  }

  /** Nothing stays open between loads. */
  async close(): Promise<void> {}
}

/** Project keys from Sentry's SQLite database file, opened read-only. */
import { Database } from "bun:sqlite";
import { SqlKeySource, type Row, type SqlConnection } from "./sentry-schema.ts";

// bun:sqlite is synchronous: a locked file would block the event loop, so wait only briefly and
// let the registry retry at the next period.
const BUSY_TIMEOUT_MS = 250;

export class SqliteKeySource extends SqlKeySource {
  constructor(path: string, timeoutMs?: number) {
    super(
      {
        name: "sqlite",
        location: path,
        secrets: [],
        connect: async (): Promise<SqlConnection> => {
          const db = new Database(path, { readonly: true });
          db.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
          return {
            // PRAGMA arguments cannot be bound; the table name is our own constant.
            columns: async (table) =>
              db
                .query<{ name: string }, []>(`PRAGMA table_info(${table})`)
                .all()
                .map((r) => r.name),
            query: async (text) => db.query<Row, []>(text).all(),
            close: async () => db.close(),
          };
        },
      },
      timeoutMs,
    );
  }
}

/** Project keys from Sentry's MySQL / MariaDB database, via `mysql2/promise`. */
import { DEFAULT_LOAD_TIMEOUT_MS, SqlKeySource, type Row, type SqlConnection, type SqlServerOptions } from "./sentry-schema.ts";

const COLUMNS_SQL = "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?";

export class MysqlKeySource extends SqlKeySource {
  constructor(options: SqlServerOptions) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
    super(
      {
        name: "mysql",
        location: `${options.host}:${options.port}/${options.database}`,
        secrets: [options.password],
        connect: async (): Promise<SqlConnection> => {
          // Loaded on first use: mysql2 is the heaviest module at start-up and most gateways never need it.
          const { default: mysql } = await import("mysql2/promise");
          const conn = await mysql.createConnection({
            host: options.host,
            port: options.port,
            database: options.database,
            user: options.user,
            password: options.password,
            connectTimeout: timeoutMs,
            // Ids beyond 2^53 come back as strings, which the mapping rejects, instead of rounded.
            supportBigNumbers: true,
          });
          // A server that goes away between queries emits "error"; the pending query rejects anyway.
          conn.on("error", () => {});
          return {
            columns: async (table) => {
              const [rows] = await conn.query(COLUMNS_SQL, [table]);
              return (rows as Row[]).map((r) => String(r.name ?? r.NAME));
            },
            query: async (text) => (await conn.query(text))[0] as Row[],
            close: async (force) => {
              if (force) conn.destroy();
              else await conn.end();
            },
          };
        },
      },
      timeoutMs,
    );
  }
}

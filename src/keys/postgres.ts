/** Project keys from Sentry's PostgreSQL database, via the `postgres` package. */
import { DEFAULT_LOAD_TIMEOUT_MS, SqlKeySource, type SqlBackend, type SqlConnection, type SqlServerOptions } from "./sentry-schema.ts";

// Tables are found through the search path, as the unqualified SELECT will find them.
const COLUMNS_SQL = "SELECT column_name AS name FROM information_schema.columns WHERE table_name = $1 AND table_schema = ANY (current_schemas(false))";

export class PostgresKeySource extends SqlKeySource {
  constructor(options: SqlServerOptions) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
    const backend: SqlBackend = {
      name: "postgres",
      location: `${options.host}:${options.port}/${options.database}`,
      secrets: [options.password],
      connect: async (): Promise<SqlConnection> => {
        // One connection, opened by the first query; no prepared statements or type fetching,
        // so the load is exactly the two queries below.
        // Loaded on first use: the driver costs start-up time for every gateway that doesn't use it.
        const { default: postgres } = await import("postgres");
        const sql = postgres({
          host: options.host,
          port: options.port,
          database: options.database,
          username: options.user,
          password: options.password,
          max: 1,
          prepare: false,
          fetch_types: false,
          connect_timeout: Math.max(1, Math.ceil(timeoutMs / 1000)),
          onnotice: () => {},
        });
        return {
          columns: async (table) => (await sql.unsafe(COLUMNS_SQL, [table])).map((r) => String(r.name)),
          query: async (text) => [...(await sql.unsafe(text))],
          close: (force) => sql.end({ timeout: force ? 0 : 5 }),
        };
      },
    };
    super(backend, timeoutMs);
  }
}

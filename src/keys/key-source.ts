/**
 * Where project keys come from. static.ts, sqlite.ts, postgres.ts, mysql.ts and sentry-api.ts
 * implement it side by side and all pass test/contracts/key-source.contract.ts. The registry
 * (registry.ts) calls `load` every UPDATE_PERIOD and swaps the whole set in at once; the request
 * path only ever reads the registry's in-memory map.
 */
export interface ProjectKey {
  projectId: number;
  /** 32 hex chars, as in the DSN. */
  publicKey: string;
  secretKey: string | null;
}

export interface KeySource {
  /** Short name for logs and metrics: "static", "sqlite", "postgres", "mysql", "sentry-api". */
  readonly name: string;
  /** Every active key allowed to store events. Throws on failure; never logs secrets. */
  load(): Promise<ProjectKey[]>;
  close(): Promise<void>;
}

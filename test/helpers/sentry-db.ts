/**
 * A throwaway Sentry database holding `sentry_projectkey` in the shape of one era
 * (docs/PROTOCOL.md §9), in SQLite (a temp file), PostgreSQL or MySQL/MariaDB (a database of its
 * own, created on the test services and dropped by `drop()`), plus a key source reading it.
 */
import { Database } from "bun:sqlite";
import { copyFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import postgres from "postgres";
import type { KeySource } from "../../src/keys/key-source.ts";
import type { ContractKey, KeySourceFixture } from "../contracts/key-source.contract.ts";
import { MysqlKeySource } from "../../src/keys/mysql.ts";
import { PostgresKeySource } from "../../src/keys/postgres.ts";
import type { SqlServerOptions } from "../../src/keys/sentry-schema.ts";
import { SqliteKeySource } from "../../src/keys/sqlite.ts";
import { SERVICE_HOST, SERVICE_PORTS, uniqueName } from "./services.ts";

export type SqlBackendName = "sqlite" | "postgres" | "mysql";
export type Era = "2013" | "2014" | "2015" | "2018" | "2023";
export const ERAS: Era[] = ["2013", "2014", "2015", "2018", "2023"];

type ColumnType = "pk" | "bigint" | "int" | "key" | "label" | "timestamp" | "text" | "roles" | "status" | "use_case";

const TYPES: Record<SqlBackendName, Record<ColumnType, string>> = {
  sqlite: {
    pk: "INTEGER PRIMARY KEY AUTOINCREMENT",
    bigint: "INTEGER NOT NULL",
    int: "INTEGER NULL",
    key: "VARCHAR(32) NULL UNIQUE",
    label: "VARCHAR(64) NULL",
    timestamp: "DATETIME NULL",
    text: "TEXT NULL",
    roles: "BIGINT NOT NULL DEFAULT 1",
    status: "INTEGER NOT NULL DEFAULT 0",
    use_case: "VARCHAR(32) NOT NULL DEFAULT 'user'",
  },
  postgres: {
    pk: "SERIAL PRIMARY KEY",
    bigint: "BIGINT NOT NULL",
    int: "INTEGER NULL",
    key: "VARCHAR(32) NULL UNIQUE",
    label: "VARCHAR(64) NULL",
    timestamp: "TIMESTAMP WITH TIME ZONE NULL",
    text: "TEXT NULL",
    roles: "BIGINT NOT NULL DEFAULT 1",
    status: "INTEGER NOT NULL DEFAULT 0 CHECK (status >= 0)",
    use_case: "VARCHAR(32) NOT NULL DEFAULT 'user'",
  },
  mysql: {
    pk: "INT AUTO_INCREMENT PRIMARY KEY",
    bigint: "BIGINT NOT NULL",
    int: "INT NULL",
    key: "VARCHAR(32) NULL UNIQUE",
    label: "VARCHAR(64) NULL",
    timestamp: "DATETIME NULL",
    text: "TEXT NULL",
    roles: "BIGINT NOT NULL DEFAULT 1",
    status: "INT UNSIGNED NOT NULL DEFAULT 0",
    use_case: "VARCHAR(32) NOT NULL DEFAULT 'user'",
  },
};

const BASE: Array<[string, ColumnType]> = [
  ["id", "pk"],
  ["project_id", "bigint"],
  ["public_key", "key"],
  ["secret_key", "key"],
];
const USERS: Array<[string, ColumnType]> = [
  ["user_id", "int"],
  ["user_added_id", "int"],
];
const MODERN: Array<[string, ColumnType]> = [...BASE, ["label", "label"], ["roles", "roles"], ["status", "status"], ["date_added", "timestamp"]];
const RATE_LIMITS: Array<[string, ColumnType]> = [
  ["rate_limit_count", "int"],
  ["rate_limit_window", "int"],
  ["data", "text"],
];

export const ERA_COLUMNS: Record<Era, Array<[string, ColumnType]>> = {
  "2013": [...BASE, ["user_id", "int"]],
  "2014": [...BASE, ...USERS, ["date_added", "timestamp"], ["label", "label"], ["roles", "roles"]],
  "2015": MODERN,
  "2018": [...MODERN, ...RATE_LIMITS],
  "2023": [...MODERN, ...RATE_LIMITS, ["use_case", "use_case"]],
};

export interface EraShape {
  status: boolean;
  roles: boolean;
  useCase: boolean;
}

export function shapeOf(era: Era): EraShape {
  const names = new Set(ERA_COLUMNS[era].map(([n]) => n));
  return { status: names.has("status"), roles: names.has("roles"), useCase: names.has("use_case") };
}

export interface SeedKey {
  projectId: number;
  publicKey: string | null;
  secretKey: string | null;
  /** status 0 / 1, where the era has the column. Default true. */
  active?: boolean;
  /** roles bitfield, where the era has the column. Default 1 (store). */
  roles?: number;
  /** Where the era has the column. Default "user". */
  useCase?: string;
}

export interface SentryDb {
  readonly backend: SqlBackendName;
  readonly era: Era;
  readonly shape: EraShape;
  /** SQLite file path, or the server settings of the database. */
  readonly location: { path: string } | SqlServerOptions;
  source(timeoutMs?: number): KeySource;
  insert(...keys: SeedKey[]): Promise<void>;
  setActive(publicKey: string, active: boolean): Promise<void>;
  /** Runs any statement (e.g. an ALTER TABLE of a Sentry upgrade); `?` placeholders. */
  exec(sql: string, params?: unknown[]): Promise<void>;
  drop(): Promise<void>;
}

/** Runs statements with `?` placeholders on one backend. */
interface Admin {
  exec(sql: string, params: unknown[]): Promise<void>;
  drop(): Promise<void>;
}

async function sqliteAdmin(path: string): Promise<Admin> {
  const db = new Database(path, { create: true });
  return {
    exec: async (sql, params) => {
      db.query(sql).run(...(params as Array<string | number | null>));
    },
    drop: async () => {
      db.close();
      for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(path + suffix, { force: true });
    },
  };
}

async function postgresAdmin(database: string): Promise<Admin> {
  const settings = { host: SERVICE_HOST, port: SERVICE_PORTS.postgres, username: "postgres", max: 1, onnotice: () => {} };
  const root = postgres({ ...settings, database: "postgres" });
  await root.unsafe(`CREATE DATABASE "${database}"`);
  const db = postgres({ ...settings, database });
  return {
    exec: async (sql, params) => {
      let n = 0;
      await db.unsafe(
        sql.replace(/\?/g, () => `$${++n}`),
        params as never[],
      );
    },
    drop: async () => {
      await db.end({ timeout: 1 });
      await root.unsafe(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await root.end({ timeout: 1 });
    },
  };
}

async function mysqlAdmin(database: string): Promise<Admin> {
  const root = await mysql.createConnection({ host: SERVICE_HOST, port: SERVICE_PORTS.mysql, user: "root" });
  await root.query(`CREATE DATABASE \`${database}\``);
  await root.query(`USE \`${database}\``);
  return {
    exec: async (sql, params) => {
      await root.query(sql, params);
    },
    drop: async () => {
      await root.query(`DROP DATABASE IF EXISTS \`${database}\``);
      await root.end();
    },
  };
}

export async function createSentryDb(backend: SqlBackendName, era: Era): Promise<SentryDb> {
  const name = uniqueName("cyclops_keys");
  let admin: Admin;
  let location: SentryDb["location"];
  if (backend === "sqlite") {
    const path = join(tmpdir(), `${name}.sqlite`);
    admin = await sqliteAdmin(path);
    location = { path };
  } else {
    admin = backend === "postgres" ? await postgresAdmin(name) : await mysqlAdmin(name);
    location = {
      host: SERVICE_HOST,
      port: SERVICE_PORTS[backend],
      database: name,
      user: backend === "postgres" ? "postgres" : "root",
      password: "",
    };
  }
  const columns = ERA_COLUMNS[era];
  const names = new Set(columns.map(([n]) => n));
  const ddl = columns.map(([n, t]) => `${n} ${TYPES[backend][t]}`).join(", ");
  await admin.exec(`CREATE TABLE sentry_projectkey (${ddl})`, []);

  return {
    backend,
    era,
    shape: shapeOf(era),
    location,
    source(timeoutMs) {
      if ("path" in location) return new SqliteKeySource(location.path, timeoutMs);
      const options = { ...location, timeoutMs };
      return backend === "postgres" ? new PostgresKeySource(options) : new MysqlKeySource(options);
    },
    async insert(...keys) {
      for (const k of keys) {
        const values: Record<string, unknown> = {
          project_id: k.projectId,
          public_key: k.publicKey,
          secret_key: k.secretKey,
          status: k.active === false ? 1 : 0,
          roles: k.roles ?? 1,
          use_case: k.useCase ?? "user",
          label: "Default",
        };
        const cols = Object.keys(values).filter((c) => names.has(c));
        await admin.exec(
          `INSERT INTO sentry_projectkey (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`,
          cols.map((c) => values[c]),
        );
      }
    },
    async setActive(publicKey, active) {
      if (!names.has("status")) throw new Error(`the ${era} table has no status column`);
      await admin.exec("UPDATE sentry_projectkey SET status = ? WHERE public_key = ?", [active ? 0 : 1, publicKey]);
    },
    exec: (sql, params = []) => admin.exec(sql, params),
    drop: () => admin.drop(),
  };
}

/** A contract fixture (test/contracts/key-source.contract.ts) over a fresh database of this era. */
export function sqlKeySourceFixture(backend: SqlBackendName, era: Era) {
  const toSeed = (k: ContractKey): SeedKey => ({ ...k, roles: k.store ? 1 : 2 });
  return async (seed: ContractKey[]): Promise<KeySourceFixture> => {
    const db = await createSentryDb(backend, era);
    try {
      await db.insert(...seed.map(toSeed));
    } catch (e) {
      await db.drop();
      throw e;
    }
    return {
      source: db.source(),
      hasStatus: db.shape.status,
      hasRoles: db.shape.roles,
      add: (k) => db.insert(toSeed(k)),
      disable: db.shape.status ? (publicKey) => db.setActive(publicKey, false) : undefined,
      cleanup: () => db.drop(),
    };
  };
}

/**
 * Creates a Sentry SQLite keys database at `path` holding `keys`, atomically (a copy renamed into
 * place), so a gateway polling that path never reads a half-made file.
 */
export async function createSqliteKeysDbAt(path: string, ...keys: SeedKey[]): Promise<void> {
  const db = await createSentryDb("sqlite", "2023");
  try {
    await db.insert(...keys);
    copyFileSync((db.location as { path: string }).path, `${path}.tmp`);
    renameSync(`${path}.tmp`, path);
  } finally {
    await db.drop();
  }
}

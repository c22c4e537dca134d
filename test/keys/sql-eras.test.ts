/**
 * Era-specific behaviour of the SQL sources, on real databases: what each shape of
 * sentry_projectkey lets through, a Sentry upgrade between two loads, and failures (missing
 * table, unreachable server, hanging server, bad credentials) with messages free of secrets.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeySource } from "../../src/keys/key-source.ts";
import { MysqlKeySource } from "../../src/keys/mysql.ts";
import { PostgresKeySource } from "../../src/keys/postgres.ts";
import { SqliteKeySource } from "../../src/keys/sqlite.ts";
import { hexKey } from "../contracts/key-source.contract.ts";
import { createSentryDb, type Era, type SentryDb, type SqlBackendName } from "../helpers/sentry-db.ts";
import { describeWith, SERVICE_HOST, uniqueName } from "../helpers/services.ts";

const byKey = (keys: Array<{ publicKey: string }>) => keys.map((k) => k.publicKey).sort();

function body(backend: SqlBackendName) {
  return () => {
    const open: SentryDb[] = [];
    const db = async (era: Era) => {
      const d = await createSentryDb(backend, era);
      open.push(d);
      return d;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((d) => d.drop()));
    });

    test("2013: rows without a public key are skipped, a null secret loads as null", async () => {
      const d = await db("2013");
      const withSecret = hexKey();
      const withoutSecret = hexKey();
      await d.insert(
        { projectId: 1, publicKey: withSecret, secretKey: hexKey() },
        { projectId: 1, publicKey: withoutSecret, secretKey: null },
        { projectId: 2, publicKey: null, secretKey: hexKey() },
      );
      const keys = await d.source().load();
      expect(byKey(keys)).toEqual([withSecret, withoutSecret].sort());
      expect(keys.find((k) => k.publicKey === withoutSecret)).toEqual({ projectId: 1, publicKey: withoutSecret, secretKey: null });
    });

    test("2014: keys need the store bit of roles, whatever other bits are set", async () => {
      const d = await db("2014");
      const store = hexKey();
      const storeAndApi = hexKey();
      await d.insert(
        { projectId: 1, publicKey: store, secretKey: hexKey(), roles: 1 },
        { projectId: 1, publicKey: storeAndApi, secretKey: hexKey(), roles: 3 },
        { projectId: 1, publicKey: hexKey(), secretKey: hexKey(), roles: 2 },
        { projectId: 1, publicKey: hexKey(), secretKey: hexKey(), roles: 0 },
      );
      expect(byKey(await d.source().load())).toEqual([store, storeAndApi].sort());
    });

    test("2023: active store keys of every use case load; disabled ones do not", async () => {
      const d = await db("2023");
      const user = hexKey();
      const profiling = hexKey();
      await d.insert(
        { projectId: 10, publicKey: user, secretKey: hexKey() },
        { projectId: 10, publicKey: profiling, secretKey: hexKey(), useCase: "profiling" },
        { projectId: 10, publicKey: hexKey(), secretKey: hexKey(), useCase: "user", active: false },
        { projectId: 10, publicKey: hexKey(), secretKey: hexKey(), roles: 2 },
      );
      expect(byKey(await d.source().load())).toEqual([user, profiling].sort());
    });

    test("columns are detected at each load: a status column added by an upgrade is honoured at once", async () => {
      const d = await db("2013");
      const kept = hexKey();
      const disabled = hexKey();
      await d.insert({ projectId: 1, publicKey: kept, secretKey: null }, { projectId: 1, publicKey: disabled, secretKey: null });
      const source = d.source();
      expect(byKey(await source.load())).toEqual([kept, disabled].sort());
      await d.exec("ALTER TABLE sentry_projectkey ADD COLUMN status INTEGER NOT NULL DEFAULT 0");
      await d.exec("UPDATE sentry_projectkey SET status = 1 WHERE public_key = ?", [disabled]);
      expect(byKey(await source.load())).toEqual([kept]);
    });

    test("a database without sentry_projectkey fails with a message naming the table and the place", async () => {
      const d = await db("2015");
      await d.exec("DROP TABLE sentry_projectkey");
      const where = "path" in d.location ? d.location.path : d.location.database;
      const err = await d
        .source()
        .load()
        .then(
          () => null,
          (e: Error) => e,
        );
      expect(err?.message).toContain("table sentry_projectkey not found");
      expect(err?.message).toContain(where);
    });

    test("the source reads only what exists and never writes", async () => {
      const d = await db("2015");
      const key = hexKey();
      await d.insert({ projectId: 1, publicKey: key, secretKey: null });
      const source = d.source();
      await source.load();
      await source.load();
      // Still writable by Sentry: our loads left no lock or open transaction behind.
      await d.insert({ projectId: 2, publicKey: hexKey(), secretKey: null });
      expect((await source.load()).length).toBe(2);
    });
  };
}

describe("sqlite source eras", body("sqlite"));
await describeWith("postgres", "postgres source eras", body("postgres"));
await describeWith("mysql", "mysql source eras", body("mysql"));

/** A TCP server that accepts connections and never says a word, like a wedged database. */
async function silentServer(): Promise<{ port: number; server: Server }> {
  const server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, SERVICE_HOST, resolve));
  return { port: (server.address() as { port: number }).port, server };
}

const SECRET = "pw-Sup3r-s3cret-value";

async function failure(source: KeySource): Promise<Error> {
  const err = await source.load().then(
    () => null,
    (e: Error) => e,
  );
  if (!err) throw new Error("load succeeded");
  return err;
}

describe("sqlite source failures", () => {
  test("a missing file fails the load and is not created", async () => {
    const path = join(tmpdir(), `${uniqueName()}.sqlite`);
    const err = await failure(new SqliteKeySource(path));
    expect(err.message).toContain(path);
    expect(existsSync(path)).toBe(false);
  });
});

for (const backend of ["postgres", "mysql"] as const) {
  const make = backend === "postgres" ? PostgresKeySource : MysqlKeySource;
  const port = backend === "postgres" ? 5432 : 3306;
  await describeWith(backend, `${backend} source failures`, () => {
    test("a server that never answers: the load is cut off by its timeout", async () => {
      const { port: silent, server } = await silentServer();
      try {
        const err = await failure(new make({ host: SERVICE_HOST, port: silent, database: "sentry", user: "u", password: SECRET, timeoutMs: 300 }));
        expect(err.message).toContain(`${SERVICE_HOST}:${silent}/sentry`);
        expect(err.message).toMatch(/timed out|ETIMEDOUT|timeout/i);
        expect(err.message).not.toContain(SECRET);
      } finally {
        server.close();
      }
    });

    test("nothing listening: a connection error, without the password", async () => {
      const { port: closed, server } = await silentServer();
      await new Promise((resolve) => server.close(resolve));
      const err = await failure(new make({ host: SERVICE_HOST, port: closed, database: "sentry", user: "u", password: SECRET }));
      expect(err.message).toMatch(/ECONNREFUSED|refused/i);
      expect(err.message).not.toContain(SECRET);
    });

    test("rejected credentials: the server's reason, without the password", async () => {
      // Trust authentication ignores passwords, so an unknown role is what PostgreSQL rejects;
      // MariaDB's root has no password, so giving one is rejected.
      const user = backend === "postgres" ? uniqueName("nobody") : "root";
      const err = await failure(new make({ host: SERVICE_HOST, port, database: "mysql", user, password: SECRET }));
      expect(err.message).toMatch(backend === "postgres" ? /role .* does not exist/ : /Access denied/);
      expect(err.message).not.toContain(SECRET);
    });

    test("a database that does not exist", async () => {
      const database = uniqueName("missing");
      const user = backend === "postgres" ? "postgres" : "root";
      const err = await failure(new make({ host: SERVICE_HOST, port, database, user, password: "" }));
      expect(err.message).toContain(database);
    });
  });
}

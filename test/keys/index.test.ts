/** createKeySources: which sources a configuration yields and that each is wired to the right place. */
import { afterEach, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaults, type Config } from "../../src/config/schema.ts";
import { createKeySources } from "../../src/keys/index.ts";
import { hexKey } from "../contracts/key-source.contract.ts";
import { FakeSentryApi } from "../helpers/fake-sentry-api.ts";
import { createSentryDb, type SentryDb } from "../helpers/sentry-db.ts";
import { describeWith, uniqueName } from "../helpers/services.ts";

const config = (overrides: Partial<Config>): Config => ({ ...defaults(), ...overrides });
const names = (c: Config) => createKeySources(c).map((s) => s.name);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function seededDb(backend: "sqlite" | "postgres" | "mysql"): Promise<{ db: SentryDb; key: string }> {
  const db = await createSentryDb(backend, "2023");
  cleanups.push(() => db.drop());
  const key = hexKey();
  await db.insert({ projectId: 42, publicKey: key, secretKey: null });
  return { db, key };
}

describe("createKeySources", () => {
  test("DB_BACKEND none: the static source alone, even with no keys", async () => {
    const sources = createKeySources(defaults());
    expect(sources.map((s) => s.name)).toEqual(["static"]);
    expect(await sources[0]!.load()).toEqual([]);
  });

  test("PROJECT_KEYS are combined with the backend's source; without them only the backend", () => {
    const keys: Array<[number, string, string | null]> = [[1, hexKey(), null]];
    expect(names(config({ DB_BACKEND: "postgres", PROJECT_KEYS: keys }))).toEqual(["static", "postgres"]);
    expect(names(config({ DB_BACKEND: "mysql" }))).toEqual(["mysql"]);
    expect(names(config({ DB_BACKEND: "sqlite" }))).toEqual(["sqlite"]);
  });

  test("sqlite reads DB_PATH, else DB_NAME as the file", async () => {
    const { db, key } = await seededDb("sqlite");
    const path = (db.location as { path: string }).path;
    const viaPath = createKeySources(config({ DB_BACKEND: "sqlite", DB_PATH: path, DB_NAME: "/nonexistent" }))[0]!;
    expect((await viaPath.load()).map((k) => k.publicKey)).toEqual([key]);
    const viaName = createKeySources(config({ DB_BACKEND: "sqlite", DB_NAME: path }))[0]!;
    expect((await viaName.load()).map((k) => k.publicKey)).toEqual([key]);
  });

  test("sentry-api without an organization or a token: errors naming the options", () => {
    expect(() => createKeySources(config({ DB_BACKEND: "sentry-api", SENTRY_API_TOKEN: "t" }))).toThrow("SENTRY_API_ORG");
    expect(() => createKeySources(config({ DB_BACKEND: "sentry-api", SENTRY_API_ORG: "acme" }))).toThrow(/SENTRY_API_TOKEN .*CYCLOPS_SENTRY_API_TOKEN.*SENTRY_API_TOKEN_FILE/);
  });

  test("sentry-api defaults to SENTRY_BASE_URL and reads the token file at each load", async () => {
    const api = new FakeSentryApi({ token: "first-token" });
    cleanups.push(() => api.stop());
    const key = hexKey();
    api.addKey({ projectId: 3, publicKey: key, secretKey: null });
    const file = join(tmpdir(), `${uniqueName()}.token`);
    cleanups.push(() => rmSync(file, { force: true }));
    writeFileSync(file, "first-token\n");
    const sources = createKeySources(config({ DB_BACKEND: "sentry-api", SENTRY_BASE_URL: api.url, SENTRY_API_ORG: api.org, SENTRY_API_TOKEN_FILE: file }));
    expect(sources.map((s) => s.name)).toEqual(["sentry-api"]);
    const source = sources[0]!;
    expect((await source.load()).map((k) => k.publicKey)).toEqual([key]);

    api.token = "rotated-token";
    await expect(source.load()).rejects.toThrow("token rejected (401)");
    writeFileSync(file, "  rotated-token  \n");
    expect((await source.load()).map((k) => k.publicKey)).toEqual([key]);

    writeFileSync(file, "\n");
    await expect(source.load()).rejects.toThrow("is empty");
  });

  test("sentry-api prefers SENTRY_API_URL and an inline token", async () => {
    const api = new FakeSentryApi();
    cleanups.push(() => api.stop());
    api.addKey({ projectId: 1, publicKey: hexKey(), secretKey: null });
    const source = createKeySources(
      config({
        DB_BACKEND: "sentry-api",
        SENTRY_BASE_URL: "http://127.0.0.1:1",
        SENTRY_API_URL: api.url,
        SENTRY_API_ORG: api.org,
        SENTRY_API_TOKEN: api.token,
        SENTRY_API_TOKEN_FILE: "/nonexistent/token",
      }),
    )[0]!;
    expect((await source.load()).length).toBe(1);
  });
});

for (const backend of ["postgres", "mysql"] as const) {
  await describeWith(backend, `createKeySources ${backend}`, () => {
    test("DB_PORT null means the backend's own port", async () => {
      const { db, key } = await seededDb(backend);
      const loc = db.location as { host: string; database: string; user: string };
      const source = createKeySources(config({ DB_BACKEND: backend, DB_HOST: loc.host, DB_PORT: null, DB_NAME: loc.database, DB_USER: loc.user, DB_PASS: "" }))[0]!;
      expect(await source.load()).toEqual([{ projectId: 42, publicKey: key, secretKey: null }]);
    });
  });
}

/**
 * Project keys loaded from Sentry's database (SQLite, PostgreSQL, MariaDB, in several eras' table
 * shapes) and from its web API, proven through HTTP: which keys the ingest routes accept, how
 * additions and disablings arrive at the next refresh, what happens when the source breaks
 * after a good load or is not there yet at start, and that the database password never reaches
 * the log, /count or /healthcheck.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../../src/config/schema.ts";
import { hexKey } from "../contracts/key-source.contract.ts";
import { FakeSentryApi, type RecordedRequest } from "../helpers/fake-sentry-api.ts";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import { spawnGateway, startTestGateway, tempDir, type TestGateway } from "../helpers/gateway.ts";
import { createSentryDb, createSqliteKeysDbAt, ERAS, type Era, type SeedKey, type SentryDb, type SqlBackendName } from "../helpers/sentry-db.ts";
import { describeWith, uniqueName } from "../helpers/services.ts";

const PERIOD = 0.3;
const WAIT_MS = 8_000;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  const errors: unknown[] = [];
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length) throw errors[0];
});

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | null = null;
  return () => (p ??= fn());
}

/** A fresh database of this era, dropped after the test; `drop` may also be called by the test. */
async function newDb(backend: SqlBackendName, era: Era): Promise<SentryDb> {
  const db = await createSentryDb(backend, era);
  const drop = once(() => db.drop());
  cleanups.push(drop);
  return { ...db, drop };
}

function sourceSettings(db: SentryDb, login?: { user: string; password: string }): Partial<Config> {
  const loc = db.location;
  if ("path" in loc) return { DB_BACKEND: "sqlite", DB_PATH: loc.path };
  return { DB_BACKEND: db.backend, DB_HOST: loc.host, DB_PORT: loc.port, DB_NAME: loc.database, DB_USER: login?.user ?? loc.user, DB_PASS: login?.password ?? loc.password };
}

async function gateway(settings: Partial<Config>): Promise<TestGateway> {
  const g = await startTestGateway({ URL_CACHE_EXPIRATION: 0, UPDATE_PERIOD: PERIOD, ...settings });
  cleanups.push(() => g.stop());
  return g;
}

let seq = 0;
/** POSTs one event with `key` to /api/{project}/store/ (or the legacy /api/store/ for null); returns the status. */
async function store(g: TestGateway, project: number | null, key: string, message = `m ${process.pid}-${++seq}-${hexKey()}`): Promise<number> {
  const path = project === null ? "/api/store/" : `/api/${project}/store/`;
  const res = await fetch(g.url + path, {
    method: "POST",
    headers: { "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=t/1, sentry_key=${key}`, "Content-Type": "application/json" },
    body: JSON.stringify({ message }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** `name → status` for each [name, project, key], so a failure shows every answer at once. */
async function answers(g: TestGateway, cases: Array<[string, number | null, string]>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, project, key] of cases) out[name] = await store(g, project, key);
  return out;
}

interface KeysDoc {
  size: number;
  age_seconds: number | null;
  last_error: string | null;
}
async function keysDoc(g: TestGateway): Promise<KeysDoc> {
  return ((await (await fetch(`${g.url}/count`)).json()) as { keys: KeysDoc }).keys;
}

async function health(g: TestGateway): Promise<{ status: number; text: string }> {
  const res = await fetch(`${g.url}/healthcheck`);
  return { status: res.status, text: await res.text() };
}

/** Polls `probe` until `done` holds or WAIT_MS passes; returns the last value, so the caller's expect shows it. */
async function waitFor<T>(probe: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value) && Date.now() < deadline) {
    await Bun.sleep(50);
    value = await probe();
  }
  return value;
}

/** A fresh key, fit for both the database (SeedKey) and the fake API (FakeKey). */
interface TestKey {
  projectId: number;
  publicKey: string;
  secretKey: string;
  active?: boolean;
  roles?: number;
  useCase?: string;
}
const key = (projectId: number, extra: Pick<SeedKey, "active" | "roles" | "useCase"> = {}): TestKey => ({ projectId, publicKey: hexKey(), secretKey: hexKey(), ...extra });

/** Keys of every kind the era's table can express, split into what Sentry accepts and what it refuses. */
function eraSeed(db: SentryDb): { accepted: Record<string, TestKey>; refused: Record<string, TestKey> } {
  const accepted: Record<string, TestKey> = { p1: key(1), p2: key(2) };
  const refused: Record<string, TestKey> = {};
  if (db.shape.status) refused.disabled = key(1, { active: false });
  if (db.shape.roles) {
    refused.apiOnly = key(1, { roles: 2 });
    accepted.storeAndApi = key(2, { roles: 3 });
    if (db.shape.status) refused.disabledApiOnly = key(2, { roles: 2, active: false });
  }
  // Relay accepts events for an active store key whatever its use case.
  if (db.shape.useCase) accepted.profiling = key(1, { useCase: "profiling" });
  return { accepted, refused };
}

function backendSuite(backend: SqlBackendName): void {
  describe("each era's table: exactly the active store keys are accepted", () => {
    let upstream: FakeSentry;
    beforeAll(async () => {
      upstream = await startFakeSentry();
    });
    afterAll(() => upstream.stop());

    for (const era of ERAS) {
      test(era, async () => {
        const db = await newDb(backend, era);
        const { accepted, refused } = eraSeed(db);
        await db.insert(...Object.values(accepted), ...Object.values(refused));
        const g = await gateway({ ...sourceSettings(db), SENTRY_BASE_URL: upstream.url });
        expect(await keysDoc(g)).toEqual({ size: Object.keys(accepted).length, age_seconds: expect.any(Number), last_error: null });
        expect((await health(g)).status).toBe(200);

        const cases: Array<[string, number | null, string]> = [];
        for (const [name, k] of Object.entries({ ...accepted, ...refused })) cases.push([name, k.projectId, k.publicKey]);
        cases.push(["unknown", 1, hexKey()], ["p1 on project 2", 2, accepted.p1!.publicKey], ["p2 on project 1", 1, accepted.p2!.publicKey]);
        cases.push(["legacy unknown", null, hexKey()]);
        if (refused.disabled) cases.push(["legacy disabled", null, refused.disabled.publicKey]);
        const expected: Record<string, number> = {};
        for (const [name] of cases) expected[name] = name in accepted ? 200 : 403;
        expect(await answers(g, cases)).toEqual(expected);

        // The legacy route takes its project from the key: the report reaches Sentry under project 2.
        const message = `legacy ${hexKey()}`;
        expect(await store(g, null, accepted.p2!.publicKey, message)).toBe(200);
        const forwarded = await waitFor(
          () => upstream.received.find((r) => (r.json as { message?: string } | undefined)?.message === message),
          (r) => r !== undefined,
        );
        expect(forwarded?.projectId).toBe(2);
        expect(forwarded?.auth.sentry_key).toBe(accepted.p2!.publicKey);
      });
    }
  });

  test("a key added in the database is accepted, and one disabled there refused, after the next refresh", async () => {
    const db = await newDb(backend, "2023");
    const old = key(1);
    await db.insert(old);
    const g = await gateway(sourceSettings(db));
    const added = key(1);
    expect(await store(g, 1, added.publicKey)).toBe(403);

    await db.insert(added);
    expect(
      await waitFor(
        () => store(g, 1, added.publicKey),
        (s) => s === 200,
      ),
    ).toBe(200);
    expect(await store(g, 1, old.publicKey)).toBe(200);

    await db.setActive(old.publicKey, false);
    expect(
      await waitFor(
        () => store(g, 1, old.publicKey),
        (s) => s === 403,
      ),
    ).toBe(403);
    expect(await store(g, 1, added.publicKey)).toBe(200);
    expect((await keysDoc(g)).size).toBe(1);
  });

  test("PROJECT_KEYS and the database's keys are both accepted", async () => {
    const db = await newDb(backend, "2015");
    const fromDb = key(1);
    await db.insert(fromDb);
    const fixed = key(7);
    const g = await gateway({ ...sourceSettings(db), PROJECT_KEYS: [[7, fixed.publicKey, null]] });
    expect(
      await answers(g, [
        ["db", 1, fromDb.publicKey],
        ["static", 7, fixed.publicKey],
        ["static on 1", 1, fixed.publicKey],
      ]),
    ).toEqual({
      db: 200,
      static: 200,
      "static on 1": 403,
    });
    expect((await keysDoc(g)).size).toBe(2);
  });

  test("the database going away after a good load: known keys still accepted, /count says why and the set ages", async () => {
    const db = await newDb(backend, "2023");
    const known = key(3);
    await db.insert(known);
    const broken = await breakableSource(db);
    const g = await gateway(broken.settings);
    expect(await store(g, 3, known.publicKey)).toBe(200);

    await broken.breakIt();
    const failed = await waitFor(
      () => keysDoc(g),
      (k) => k.last_error !== null,
    );
    expect(failed.last_error).toMatch(broken.reason);
    expect(failed.last_error).toStartWith(`${backend}: `);
    if (broken.password) expect(failed.last_error).not.toContain(broken.password);
    expect(failed.size).toBe(1);

    const later = await waitFor(
      async () => ({ status: await store(g, 3, known.publicKey), keys: await keysDoc(g) }),
      (v) => v.status !== 200 || (v.keys.age_seconds ?? 0) > (failed.age_seconds ?? 0),
    );
    expect(later.status).toBe(200);
    expect(later.keys.age_seconds).toBeGreaterThan(failed.age_seconds ?? 0);
    expect(later.keys.last_error).toMatch(broken.reason);
    expect(await store(g, 3, hexKey())).toBe(403);
    expect((await health(g)).status).toBe(200);
  });
}

interface Breakable {
  settings: Partial<Config>;
  breakIt(): Promise<void>;
  reason: RegExp;
  password?: string;
}

/**
 * How each backend's source goes away without touching the shared servers: the SQLite file is
 * deleted, the PostgreSQL database dropped, the MariaDB user's password changed.
 */
async function breakableSource(db: SentryDb): Promise<Breakable> {
  const loc = db.location;
  if ("path" in loc) {
    return { settings: sourceSettings(db), breakIt: async () => rmSync(loc.path), reason: /unable to open/i };
  }
  if (db.backend === "postgres") {
    return { settings: sourceSettings(db), breakIt: () => db.drop(), reason: /does not exist/ };
  }
  const login = await mysqlUser(db);
  return {
    settings: sourceSettings(db, login),
    breakIt: () => db.exec("ALTER USER ?@'%' IDENTIFIED BY ?", [login.user, `changed-${hexKey()}`]),
    reason: /Access denied/,
    password: login.password,
  };
}

/** A MariaDB user with a password and read access to `db`, dropped after the test. */
async function mysqlUser(db: SentryDb): Promise<{ user: string; password: string }> {
  const loc = db.location as { database: string };
  const user = uniqueName("ck").slice(0, 60);
  const password = `Pw-${hexKey()}`;
  await db.exec("CREATE USER ?@'%' IDENTIFIED BY ?", [user, password]);
  await db.exec(`GRANT SELECT ON \`${loc.database}\`.* TO ?@'%'`, [user]);
  // Runs before the database's own drop, which closes the root connection.
  cleanups.push(() => db.exec("DROP USER IF EXISTS ?@'%'", [user]));
  return { user, password };
}

describe("sqlite", () => backendSuite("sqlite"));
await describeWith("postgres", "postgres", () => backendSuite("postgres"));
await describeWith("mysql", "mysql", () => {
  backendSuite("mysql");

  test("a process with a wrong password logs the refresh failure, never the password", async () => {
    const db = await newDb("mysql", "2023");
    await db.insert(key(1));
    const login = await mysqlUser(db);
    const wrong = `Wrong-${hexKey()}`;
    const dir = tempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "cyclops.json");
    const settings: Partial<Config> = {
      BIND: "127.0.0.1",
      PORT: 0,
      SENTRY_BASE_URL: "http://127.0.0.1:1",
      CLIENT_REPORTS: false,
      URL_CACHE_EXPIRATION: 0,
      UPDATE_PERIOD: PERIOD,
      ...sourceSettings(db, { user: login.user, password: wrong }),
    };
    writeFileSync(file, JSON.stringify(settings));
    const g = await spawnGateway(["serve", "-c", file, "-vvv"]);
    cleanups.push(() => g.stop());

    const logged = await waitFor(
      () => g.stderr(),
      (s) => s.includes("project key refresh failed"),
    );
    expect(logged).toContain("project key refresh failed");
    expect(logged).toMatch(/Access denied/);
    const h = await health(g);
    expect(h.status).toBe(503);
    expect(h.text).toStartWith("UNAVAILABLE: project keys not loaded yet");
    const k = await keysDoc(g);
    expect(k.last_error).toMatch(/Access denied/);
    // Let a few more refreshes fail (and maybe log) before looking for the secrets.
    await waitFor(
      () => keysDoc(g),
      () => false,
      4 * PERIOD * 1000,
    );
    for (const text of [g.stderr(), h.text, k.last_error ?? ""]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(login.password);
    }
  });
});

describe("before the first successful load", () => {
  test("/healthcheck answers 503 until the SQLite file appears, then 200; reports meanwhile are held (200), then checked", async () => {
    const path = join(tmpdir(), `${uniqueName("cyclops_late")}.sqlite`);
    cleanups.push(() => rmSync(path, { force: true }));
    const g = await gateway({ DB_BACKEND: "sqlite", DB_PATH: path, UPDATE_PERIOD: 60 });
    const before = await health(g);
    expect(before.status).toBe(503);
    expect(before.text).toStartWith("UNAVAILABLE: project keys not loaded yet");
    const k = key(5);
    // No key can be checked yet: both are held and answered 200 (issue 18 item 5).
    expect(await store(g, 5, k.publicKey)).toBe(200);
    expect(await store(g, 5, hexKey())).toBe(200);
    expect((await keysDoc(g)).last_error).toMatch(/^sqlite: .*unable to open/i);

    // Built aside and renamed in, so no retry ever reads a half-written file.
    await createSqliteKeysDbAt(path, k);

    const after = await waitFor(
      () => health(g),
      (h) => h.status === 200,
    );
    expect(after.status).toBe(200);
    expect(await store(g, 5, k.publicKey)).toBe(200);
    expect(await store(g, 5, hexKey())).toBe(403);
    expect(await keysDoc(g)).toEqual({ size: 1, age_seconds: expect.any(Number), last_error: null });
    // The held report with the known key was admitted, the other counted as rejected.
    const count = (await (await fetch(`${g.url}/count`)).json()) as { processed: number; rejected: number };
    expect([count.processed, count.rejected]).toEqual([2, 1]);
  });
});

describe("sentry-api source through HTTP", () => {
  test("keys of every page are accepted; a 429 is waited out; a 500 keeps the previous set", async () => {
    const api = new FakeSentryApi({ pageSize: 2 });
    cleanups.push(() => api.stop());
    // 6 projects × 5 keys: three pages of projects, three pages of each project's keys.
    const keys = Array.from({ length: 30 }, (_, i) => key(1 + Math.floor(i / 5)));
    for (const k of keys) api.addKey(k);
    const inactive = key(2, { active: false });
    api.addKey(inactive);

    const cursor = (r: RecordedRequest) => new URLSearchParams(r.search).get("cursor");
    const projectsPath = `/api/0/organizations/${api.org}/projects/`;
    const lastProjectKeys = `/api/0/projects/${api.org}/project-6/keys/`;
    let served429 = 0;
    let served500 = 0;
    let failing = false;
    api.onRequest = (r) => {
      if (served429 === 0 && r.path === projectsPath && cursor(r) === "0:2:0") {
        served429++;
        api.failNext(1, 429, "0");
      } else if (failing && r.path === lastProjectKeys && cursor(r) === "0:2:0") {
        served500++;
        api.failNext(1, 500);
      }
    };

    const g = await gateway({ DB_BACKEND: "sentry-api", SENTRY_API_URL: api.url, SENTRY_API_ORG: api.org, SENTRY_API_TOKEN: api.token });
    expect(served429).toBe(1);
    expect(api.requests.some((r) => r.path === projectsPath && cursor(r) === "0:4:0")).toBe(true);
    expect(api.requests.some((r) => r.path === lastProjectKeys && cursor(r) === "0:4:0")).toBe(true);
    expect(await keysDoc(g)).toEqual({ size: 30, age_seconds: expect.any(Number), last_error: null });
    const all = (): Array<[string, number, string]> => keys.map((k, i) => [`key ${i} of project ${k.projectId}`, k.projectId, k.publicKey]);
    const allOk = Object.fromEntries(all().map(([name]) => [name, 200]));
    expect(await answers(g, [...all(), ["inactive", 2, inactive.publicKey]])).toEqual({ ...allOk, inactive: 403 });

    failing = true;
    const failed = await waitFor(
      () => keysDoc(g),
      (k) => k.last_error !== null,
    );
    expect(failed.last_error).toMatch(/^sentry-api: .*500/);
    expect(failed.last_error).not.toContain(api.token);
    // From here every refresh fails at project 6's second page of keys, after project 1's were read.
    const added = key(1);
    api.addKey(added);
    api.setActive(keys[5]!.publicKey, false);
    const seen = served500;
    await waitFor(
      () => served500,
      (n) => n >= seen + 2,
    );
    expect(served500).toBeGreaterThanOrEqual(seen + 2);
    expect(await answers(g, [...all(), ["added", 1, added.publicKey]])).toEqual({ ...allOk, added: 403 });
    expect((await keysDoc(g)).size).toBe(30);

    failing = false;
    expect(
      await waitFor(
        () => store(g, 1, added.publicKey),
        (s) => s === 200,
      ),
    ).toBe(200);
    expect(await store(g, keys[5]!.projectId, keys[5]!.publicKey)).toBe(403);
    expect(await keysDoc(g)).toEqual({ size: 30, age_seconds: expect.any(Number), last_error: null });
  });
});

/**
 * KeyRegistry: the set swaps in whole, a failed refresh keeps the last good set and says why,
 * readiness waits for the first success, static and loaded keys combine, and error reports carry
 * no secrets, with real sources (SQLite, PostgreSQL, MySQL, the fake Sentry API) where it matters.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { KeySource, ProjectKey } from "../../src/keys/key-source.ts";
import { MysqlKeySource } from "../../src/keys/mysql.ts";
import { KeyRegistry } from "../../src/keys/registry.ts";
import { SentryApiKeySource } from "../../src/keys/sentry-api.ts";
import { StaticKeySource } from "../../src/keys/static.ts";
import { hexKey } from "../contracts/key-source.contract.ts";
import { FakeSentryApi } from "../helpers/fake-sentry-api.ts";
import { createSentryDb } from "../helpers/sentry-db.ts";
import { describeWith, SERVICE_HOST, SERVICE_PORTS } from "../helpers/services.ts";

/** A source whose every load is decided by the test: a key set, an error, or a pending promise. */
class ScriptedSource implements KeySource {
  loads = 0;
  closed = false;
  private readonly script: Array<() => Promise<ProjectKey[]>> = [];
  constructor(readonly name: string) {}
  next(outcome: ProjectKey[] | Error | Promise<ProjectKey[]>): this {
    this.script.push(() => (outcome instanceof Error ? Promise.reject(outcome) : Promise.resolve(outcome)));
    return this;
  }
  async load(): Promise<ProjectKey[]> {
    this.loads++;
    const step = this.script.shift();
    if (!step) throw new Error("no scripted outcome");
    return step();
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const key = (projectId: number): ProjectKey => ({ projectId, publicKey: hexKey(), secretKey: hexKey() });

const registries: KeyRegistry[] = [];
const cleanups: Array<() => Promise<void>> = [];
function registry(...args: ConstructorParameters<typeof KeyRegistry>): KeyRegistry {
  const r = new KeyRegistry(...args);
  registries.push(r);
  return r;
}
afterEach(async () => {
  await Promise.all(registries.splice(0).map((r) => r.close()));
  for (const c of cleanups.splice(0)) await c();
});

describe("KeyRegistry", () => {
  test("not ready, empty and without error until the first successful load", async () => {
    const a = key(1);
    const source = new ScriptedSource("db").next(new Error("down")).next([a]);
    const reg = registry([source], undefined, () => 1234);
    expect(reg.status()).toEqual({ ready: false, size: 0, loadedAt: null, lastError: null, failures: 0 });
    expect(await reg.refresh()).toBe(false);
    expect(reg.ready).toBe(false);
    expect(reg.status()).toEqual({ ready: false, size: 0, loadedAt: null, lastError: "db: down", failures: 1 });
    expect(await reg.refresh()).toBe(true);
    expect(reg.status()).toEqual({ ready: true, size: 1, loadedAt: 1234, lastError: null, failures: 1 });
    expect(reg.lookup(a.publicKey)).toEqual(a);
  });

  test("the new set swaps in whole: nothing of it is visible while a source is still loading", async () => {
    const [a, b, c, d] = [key(1), key(2), key(3), key(4)];
    let release!: (keys: ProjectKey[]) => void;
    const pending = new Promise<ProjectKey[]>((resolve) => (release = resolve));
    const first = new ScriptedSource("first").next([a]).next([c]);
    const second = new ScriptedSource("second").next([b]).next(pending);
    const reg = registry([first, second]);
    await reg.refresh();
    const refreshing = reg.refresh();
    await Bun.sleep(0);
    expect(first.loads).toBe(2);
    // The first source's new keys are loaded but not yet in: the old set answers.
    expect(reg.lookup(c.publicKey)).toBeUndefined();
    expect(reg.lookup(a.publicKey)).toEqual(a);
    expect(reg.lookup(b.publicKey)).toEqual(b);
    release([d]);
    expect(await refreshing).toBe(true);
    expect([a, b].map((k) => reg.lookup(k.publicKey))).toEqual([undefined, undefined]);
    expect([c, d].map((k) => reg.lookup(k.publicKey))).toEqual([c, d]);
    expect(reg.status().size).toBe(2);
  });

  test("a failed refresh keeps the last good set and counts the failure", async () => {
    const a = key(1);
    const b = key(2);
    const errors: Array<[string, string]> = [];
    const source = new ScriptedSource("db").next([a]).next(new Error("connection refused")).next(new Error("again")).next([b]);
    const reg = registry([source], (name, message) => errors.push([name, message]));
    await reg.refresh();
    const loadedAt = reg.status().loadedAt;
    expect(await reg.refresh()).toBe(false);
    expect(await reg.refresh()).toBe(false);
    expect(reg.lookup(a.publicKey)).toEqual(a);
    expect(reg.status()).toMatchObject({ ready: true, size: 1, loadedAt, lastError: "db: again", failures: 2 });
    expect(errors).toEqual([
      ["db", "connection refused"],
      ["db", "again"],
    ]);
    expect(await reg.refresh()).toBe(true);
    expect(reg.lookup(a.publicKey)).toBeUndefined();
    expect(reg.lookup(b.publicKey)).toEqual(b);
    expect(reg.status().lastError).toBeNull();
  });

  test("one failing source fails the refresh even when the others load", async () => {
    const a = key(1);
    const ok = new ScriptedSource("static").next([a]).next([key(9)]);
    const failing = new ScriptedSource("db").next([]).next(new Error("boom"));
    const reg = registry([ok, failing]);
    await reg.refresh();
    expect(await reg.refresh()).toBe(false);
    expect(reg.lookup(a.publicKey)).toEqual(a);
    expect(reg.status().lastError).toBe("db: boom");
  });

  test("refreshes asked for while one runs share it", async () => {
    const source = new ScriptedSource("db").next([key(1)]);
    const reg = registry([source]);
    const [x, y] = await Promise.all([reg.refresh(), reg.refresh()]);
    expect([x, y, source.loads]).toEqual([true, true, 1]);
  });

  test("a throwing onRefreshError does not break the refresh", async () => {
    const reg = registry([new ScriptedSource("db").next(new Error("down"))], () => {
      throw new Error("logger broke");
    });
    expect(await reg.refresh()).toBe(false);
    expect(reg.status().failures).toBe(1);
  });

  test("static keys combine with a loaded SQLite database; the database wins a duplicate", async () => {
    const db = await createSentryDb("sqlite", "2023");
    cleanups.push(() => db.drop());
    const fromDb = hexKey();
    const both = hexKey();
    const onlyStatic = hexKey();
    await db.insert({ projectId: 7, publicKey: fromDb, secretKey: null }, { projectId: 8, publicKey: both, secretKey: "dbsecret" });
    const reg = registry([
      new StaticKeySource([
        [1, onlyStatic, null],
        [2, both, "static"],
      ]),
      db.source(),
    ]);
    expect(reg.sourceNames).toEqual(["static", "sqlite"]);
    expect(await reg.refresh()).toBe(true);
    expect(reg.lookup(onlyStatic)).toEqual({ projectId: 1, publicKey: onlyStatic, secretKey: null });
    expect(reg.lookup(fromDb)).toEqual({ projectId: 7, publicKey: fromDb, secretKey: null });
    expect(reg.lookup(both)).toEqual({ projectId: 8, publicKey: both, secretKey: "dbsecret" });
    expect(reg.status().size).toBe(3);
  });

  test("onRefreshError gets the API's refusal without the token; the old keys stay", async () => {
    const api = new FakeSentryApi();
    cleanups.push(() => api.stop());
    const k = hexKey();
    api.addKey({ projectId: 5, publicKey: k, secretKey: null });
    const token = api.token;
    const errors: string[] = [];
    const reg = registry([new SentryApiKeySource({ baseUrl: api.url, org: api.org, token: () => token })], (_, message) => errors.push(message));
    expect(await reg.refresh()).toBe(true);
    api.token = "rotated-on-the-server";
    expect(await reg.refresh()).toBe(false);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("token rejected (401)");
    expect(errors[0]).not.toContain(token);
    expect(reg.status().lastError).not.toContain(token);
    expect(reg.lookup(k)?.projectId).toBe(5);
  });

  test("start retries before the first success without waiting a whole period, close stops and closes sources", async () => {
    const a = key(1);
    let secondLoad!: () => void;
    const reached = new Promise<void>((resolve) => (secondLoad = resolve));
    const source = new ScriptedSource("db").next(new Error("not yet"));
    const load = source.load.bind(source);
    source.load = () => {
      if (source.loads === 1) {
        source.next([a]);
        queueMicrotask(secondLoad);
      }
      return load();
    };
    const reg = registry([source]);
    expect(await reg.start(3600)).toBe(false);
    await reached;
    // Joins the retry that is in flight, so its outcome is what we look at.
    await reg.refresh();
    expect(reg.lookup(a.publicKey)).toEqual(a);
    await reg.close();
    expect(source.closed).toBe(true);
  });
});

await describeWith("postgres", "KeyRegistry with PostgreSQL", () => {
  test("the database disappears on a later refresh: old keys stay, the error is recorded", async () => {
    const db = await createSentryDb("postgres", "2015");
    let dropped = false;
    cleanups.push(async () => {
      if (!dropped) await db.drop();
    });
    const k = hexKey();
    await db.insert({ projectId: 3, publicKey: k, secretKey: null });
    const errors: string[] = [];
    const reg = registry([db.source(2000)], (_, m) => errors.push(m));
    expect(await reg.refresh()).toBe(true);
    await db.drop();
    dropped = true;
    expect(await reg.refresh()).toBe(false);
    expect(reg.lookup(k)).toEqual({ projectId: 3, publicKey: k, secretKey: null });
    expect(reg.status()).toMatchObject({ ready: true, size: 1, failures: 1 });
    expect(reg.status().lastError).toMatch(/^postgres: 127\.0\.0\.1:5432\/cyclops_keys_\w+: database "\w+" does not exist/);
  });
});

await describeWith("mysql", "KeyRegistry with MySQL", () => {
  test("a rejected password is reported without the password", async () => {
    const secret = "n0t-the-Right-pa55word";
    const errors: string[] = [];
    const reg = registry([new MysqlKeySource({ host: SERVICE_HOST, port: SERVICE_PORTS.mysql, database: "mysql", user: "root", password: secret })], (_, m) => errors.push(m));
    expect(await reg.refresh()).toBe(false);
    expect(errors[0]).toContain("Access denied");
    expect(errors[0]).not.toContain(secret);
    expect(reg.status().lastError).not.toContain(secret);
  });
});

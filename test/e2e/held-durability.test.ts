/**
 * Reports held while keys load are as durable as the storage (issue 18, the gap left by item 5):
 * keys from a Sentry SQLite database that does not exist yet, 20 reports answered 200, cyclops
 * killed with -9, the keys database created, cyclops restarted on the same storage: all 20 are
 * delivered, once. With the SQLite spool, and with Redis.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Config } from "../../src/config/schema.ts";
import { createSqliteKeysDbAt } from "../helpers/sentry-db.ts";
import { describeWith, uniqueName } from "../helpers/services.ts";
import { deleteRedisPrefix } from "../storage/redis-cleanup.ts";
import { fakeSentryAndFixture, KEY, newEventId, PROJECT, sendEvent, stopProcess, waitForDelivery } from "./helpers.ts";

const { fake, fixture } = await fakeSentryAndFixture();

async function heldThroughKill(storage: Partial<Config>, label: string): Promise<void> {
  fake.reset();
  const keysDb = join(fixture.tempDir(), "sentry.sqlite");
  const settings: Partial<Config> = {
    ...storage,
    SENTRY_BASE_URL: fake.url,
    PROJECT_KEYS: [],
    DB_BACKEND: "sqlite",
    DB_PATH: keysDb,
    UPDATE_PERIOD: 0.3,
    URL_CACHE_EXPIRATION: 0,
  };
  const first = await fixture.cyclops(settings);
  const ids = Array.from({ length: 20 }, () => newEventId());
  const answers = await Promise.all(ids.map((id, i) => sendEvent(first.url, id, `held before the keys ${i}`)));
  expect(answers.map((a) => [a.status, a.id])).toEqual(ids.map((id) => [200, id]));
  const held = Number(/^cyclops_held_reports (\d+)$/m.exec(await (await fetch(`${first.url}/metrics`)).text())?.[1]);
  expect(held).toBe(20);

  first.kill();
  await first.proc!.exited;
  expect(first.proc!.signalCode).toBe("SIGKILL");
  expect(fake.received.length).toBe(0);

  await createSqliteKeysDbAt(keysDb, { projectId: PROJECT, publicKey: KEY, secretKey: null });
  const second = await fixture.cyclops(settings);
  const d = await waitForDelivery(ids, fake, 20_000);
  console.log(
    `[held durability] ${label}: 20 answered 200 before the keys, kill -9, keys created, restart: ${d.delivered} delivered, ${d.missing.length} missing, ${d.duplicates} duplicates`,
  );
  expect([d.missing, d.duplicates]).toEqual([[], 0]);
  expect(fake.violations).toEqual([]);
  // Released and removed: nothing is held any more, and a second restart delivers nothing again.
  const metrics = await (await fetch(`${second.url}/metrics`)).text();
  expect(/^cyclops_held_reports (\d+)$/m.exec(metrics)?.[1]).toBe("0");
  expect(await stopProcess(second.proc!, 10_000)).toBe(0);
  const third = await fixture.cyclops(settings);
  await Bun.sleep(1500);
  expect(fake.received.length).toBe(20);
  expect(await stopProcess(third.proc!, 10_000)).toBe(0);
}

describe("held reports survive kill -9 before keys load", () => {
  test("SQLite spool: 20 held, kill -9, keys created, restart: all 20 delivered once", async () => {
    await heldThroughKill({ STORAGE: "sqlite", SQLITE_PATH: join(fixture.tempDir(), "spool.sqlite") }, "sqlite");
  }, 60_000);
});

await describeWith("redis", "held reports in Redis", () => {
  test("Redis: 20 held, kill -9, keys created, restart: all 20 delivered once", async () => {
    const prefix = uniqueName("cyclops_e2e_held");
    try {
      await heldThroughKill({ STORAGE: "redis", REDIS_KEY_PREFIX: prefix }, "redis");
    } finally {
      await deleteRedisPrefix(prefix);
    }
  }, 60_000);
});

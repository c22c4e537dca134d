/**
 * Reports held while the project keys have never loaded (issue 18 item 5), in process: held
 * reports are answered 200 and admitted once the keys arrive, an unknown key among them is
 * counted as held_unknown_key, malformed ones still get their 4xx, and past MAX_PENDING_BYTES the
 * answer is 429 keys_pending.
 */
import { afterEach, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { build, type Parts } from "../../src/gateway/gateway.ts";
import { HeldReports } from "../../src/admission/held.ts";
import type { HeldStore } from "../../src/storage/held/index.ts";
import { MemoryHeldStore } from "../../src/storage/held/memory.ts";
import { StorageUnavailableError } from "../../src/storage/queue.ts";
import type { SqliteQueue } from "../../src/storage/sqlite.ts";
import { heldReport } from "../contracts/held-store.contract.ts";
import { createSqliteKeysDbAt } from "../helpers/sentry-db.ts";
import { envelopeOf, eventJson, KEY, PROJECT, UNKNOWN_KEY } from "../http/matrix.ts";

let parts: Parts | null = null;
const files: string[] = [];
afterEach(async () => {
  await parts?.close();
  parts = null;
  for (const f of files.splice(0)) rmSync(f, { force: true });
});

/** A gateway whose only key source is a Sentry SQLite database that does not exist yet. */
async function gatewayWithoutKeys(flags: Partial<Config> = {}): Promise<{ g: Parts; keysArrive: () => Promise<void> }> {
  const path = join(tmpdir(), `cyclops-held-${crypto.randomUUID()}.sqlite`);
  files.push(path);
  const { config } = loadConfig({
    env: {},
    flags: { SENTRY_BASE_URL: "http://127.0.0.1:1", CLIENT_REPORTS: false, DB_BACKEND: "sqlite", DB_PATH: path, URL_CACHE_EXPIRATION: 0, ...flags },
  });
  parts = await build(config);
  const g = parts;
  expect(await g.deps.keys.refresh()).toBe(false);
  const keysArrive = async () => {
    await createSqliteKeysDbAt(path, { projectId: PROJECT, publicKey: KEY, secretKey: null }, { projectId: 2, publicKey: "22222222222222222222222222222222", secretKey: null });
    expect(await g.deps.keys.refresh()).toBe(true);
    await Bun.sleep(0); // admission checks the held reports when `loaded` resolves
  };
  return { g, keysArrive };
}

const store = (body: string, key = KEY, project: number | null = PROJECT) =>
  new Request(`http://cyclops.test/api/${project === null ? "" : `${project}/`}store/`, {
    method: "POST",
    headers: { "X-Sentry-Auth": `Sentry sentry_version=7, sentry_key=${key}`, "Content-Type": "application/json" },
    body,
  });

test("held while keys load: answered 200 with the event id, admitted when the keys arrive; an unknown key counted as held_unknown_key", async () => {
  const { g, keysArrive } = await gatewayWithoutKeys();
  const event = eventJson();
  const res = await g.handle(store(event));
  expect(res.status).toBe(200);
  expect(((await res.json()) as { id: string }).id).toBe((JSON.parse(event) as { event_id: string }).event_id);
  const envelope = await g.handle(
    new Request(`http://cyclops.test/api/${PROJECT}/envelope/`, {
      method: "POST",
      headers: { "Content-Type": "application/x-sentry-envelope" },
      body: envelopeOf(eventJson(), { dsn: `http://${KEY}@127.0.0.1/${PROJECT}` }),
    }),
  );
  expect(envelope.status).toBe(200);
  expect((await g.handle(store(eventJson(), UNKNOWN_KEY))).status).toBe(200);
  // A key of project 2 sent to project 1's URL: refused once the keys say so.
  expect((await g.handle(store(eventJson(), "22222222222222222222222222222222"))).status).toBe(200);
  // Malformed reports are not held: the client hears at once.
  expect((await g.handle(store("{not json"))).status).toBe(400);
  const { stats, queue, admission } = g.deps;
  expect(admission.heldReports.count).toBe(4);
  expect(await (await g.handle(new Request("http://cyclops.test/metrics"))).text()).toContain("cyclops_held_reports 4");
  expect(queue.approxItems).toBe(0);
  expect(stats.processed).toBe(0);

  await keysArrive();
  expect(admission.heldReports).toEqual({ count: 0, bytes: 0 });
  expect(queue.approxItems).toBe(2);
  expect(stats.processed).toBe(2);
  expect(stats.dropped.held_unknown_key).toBe(2);
  // The client was told 200: project 1 exists, so Sentry hears of the two it will never get.
  expect(stats.discarded.get(`${PROJECT}|send_error|error`)).toBe(2);
  const count = (await (await g.handle(new Request("http://cyclops.test/count"))).json()) as { rejected: number; processed: number };
  expect([count.processed, count.rejected]).toEqual([2, 2]);
  // From now on keys are checked at once.
  expect((await g.handle(store(eventJson(), UNKNOWN_KEY))).status).toBe(403);
});

test("past MAX_PENDING_BYTES: 429 keys_pending with Retry-After and X-Sentry-Rate-Limits; room again once the keys arrive", async () => {
  const { g, keysArrive } = await gatewayWithoutKeys({ MAX_PENDING_BYTES: 1000 });
  const statuses: number[] = [];
  let refused: Response | null = null;
  for (let i = 0; i < 10; i++) {
    const res = await g.handle(store(eventJson()));
    statuses.push(res.status);
    if (res.status === 429) refused ??= res;
  }
  const held = g.deps.admission.heldReports;
  expect(held.bytes).toBeLessThanOrEqual(1000);
  expect(statuses.filter((s) => s === 200).length).toBe(held.count);
  expect(statuses.filter((s) => s === 429).length).toBe(10 - held.count);
  expect(held.count).toBeGreaterThan(0);
  expect(refused!.headers.get("retry-after")).toBe("10");
  expect(refused!.headers.get("x-sentry-rate-limits")).toBe("10:error:organization:keys_pending");
  expect(g.deps.stats.dropped.keys_pending).toBe(10 - held.count);
  // No project is verified yet: nothing to report to Sentry.
  expect(g.deps.stats.discarded.size).toBe(0);

  await keysArrive();
  expect(g.deps.queue.approxItems).toBe(held.count);
  expect((await g.handle(store(eventJson()))).status).toBe(200);
});

test("an envelope on the legacy path, which names no project, cannot be held: 429 keys_pending", async () => {
  const { g } = await gatewayWithoutKeys();
  const res = await g.handle(
    new Request("http://cyclops.test/api/store/", {
      method: "POST",
      headers: { "Content-Type": "application/x-sentry-envelope", "X-Sentry-Auth": `Sentry sentry_version=7, sentry_key=${KEY}` },
      body: envelopeOf(eventJson()),
    }),
  );
  expect(res.status).toBe(429);
  expect(res.headers.get("x-sentry-rate-limits")).toBe("10::organization:keys_pending");
});

test("MAX_PENDING_BYTES 0 holds nothing: 429 keys_pending until the keys load", async () => {
  const { g, keysArrive } = await gatewayWithoutKeys({ MAX_PENDING_BYTES: 0 });
  const res = await g.handle(store(eventJson()));
  expect(res.status).toBe(429);
  expect(res.headers.get("x-sentry-rate-limits")).toBe("10:error:organization:keys_pending");
  await keysArrive();
  expect((await g.handle(store(eventJson()))).status).toBe(200);
});

/** `store` as a HeldStore of `kind`, with some of its methods replaced (a fault, a delay). */
function over(store: MemoryHeldStore, kind: HeldStore["kind"], methods: Partial<Pick<HeldStore, "hold" | "list" | "remove">>): HeldStore {
  return {
    kind,
    get count() {
      return store.count;
    },
    get bytes() {
      return store.bytes;
    },
    hold: (r) => store.hold(r),
    list: (max) => store.list(max),
    remove: (reports) => store.remove(reports),
    ...methods,
  };
}

test("HeldReports: a release whose removal failed does not admit those reports again, and removes them at the next release", async () => {
  const store = new MemoryHeldStore();
  let failRemoves = 1;
  const flaky = over(store, "memory", {
    remove: async (reports) => {
      if (failRemoves-- > 0) throw new StorageUnavailableError("removal failed");
      await store.remove(reports);
    },
  });
  const held = new HeldReports(1_000_000, flaky);
  for (let i = 0; i < 3; i++) expect(held.hold(heldReport())).toBe(true);
  const admitted: string[] = [];
  const errors: unknown[] = [];
  await held.release(
    async (r) => void admitted.push(r.id),
    (e) => errors.push(e),
  );
  held.stop(); // no timed retry in this test: the next release is called by hand
  expect(admitted).toHaveLength(3);
  expect(errors).toEqual([expect.any(StorageUnavailableError)]);
  expect(held.count).toBe(3);
  await held.release(
    async (r) => void admitted.push(r.id),
    (e) => errors.push(e),
  );
  expect(admitted).toHaveLength(3);
  expect(held.count).toBe(0);
});

test("HeldReports: MAX_PENDING_BYTES counts holds not yet durable, so concurrent holds cannot pass it", async () => {
  const store = new MemoryHeldStore();
  const slow = over(store, "sqlite", {
    hold: async (r) => {
      await Bun.sleep(5);
      store.hold(r);
    },
  });
  const held = new HeldReports(100, slow);
  const report = () => heldReport({ body: new Uint8Array(40) });
  const answers = [held.hold(report()), held.hold(report()), held.hold(report())];
  expect(answers[2]).toBe(false);
  expect(held.bytes).toBe(80);
  expect(await Promise.all(answers)).toEqual([true, true, false]);
  expect([held.count, held.bytes]).toEqual([2, 80]);
});

test("with the SQLite spool a held report is answered 200 once its row is committed, and 429 storage_unavailable when the spool refuses it", async () => {
  const spool = join(tmpdir(), `cyclops-held-spool-${crypto.randomUUID()}.sqlite`);
  files.push(spool, `${spool}-wal`, `${spool}-reserve`);
  const { g, keysArrive } = await gatewayWithoutKeys({ STORAGE: "sqlite", SQLITE_PATH: spool });
  const queue = g.deps.queue as SqliteQueue;
  const rows = () => queue.db.query<{ n: number }, []>("SELECT count(*) AS n FROM held").get()!.n;
  for (let i = 0; i < 3; i++) expect((await g.handle(store(eventJson()))).status).toBe(200);
  expect(rows()).toBe(3);
  expect(g.deps.admission.heldReports.count).toBe(3);
  await keysArrive();
  await g.deps.admission.heldReleased;
  expect([rows(), queue.approxItems]).toEqual([0, 3]);

  await g.close();

  // A gateway on a closed spool: the hold is refused, never answered 200.
  const { g: closed } = await gatewayWithoutKeys({ STORAGE: "sqlite", SQLITE_PATH: `${spool}-2.sqlite` });
  files.push(`${spool}-2.sqlite`, `${spool}-2.sqlite-wal`, `${spool}-2.sqlite-reserve`);
  await closed.deps.queue.close();
  const res = await closed.handle(store(eventJson()));
  expect(res.status).toBe(429);
  expect(res.headers.get("x-sentry-rate-limits")).toBe("10:error:organization:storage_unavailable");
  expect(closed.deps.stats.dropped.storage_unavailable).toBe(1);
});

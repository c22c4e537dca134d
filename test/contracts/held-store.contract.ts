/**
 * The HeldStore contract (src/storage/held/store.ts), run against every implementation by
 * test/storage/held-store.test.ts: memory, the SQLite spool's table, and Redis (single and Cluster).
 */
import { describe, expect, test } from "bun:test";
import type { HeldReport, HeldStore, StoredHeldReport } from "../../src/storage/held/index.ts";

export interface MadeHeldStore {
  store: HeldStore;
  /** A new store over the same storage, as after a restart; absent for memory. */
  reopen?: () => Promise<HeldStore>;
  cleanup: () => Promise<void>;
}
export type MakeHeldStore = () => Promise<MadeHeldStore>;

const encoder = new TextEncoder();
let seq = 0;

export function heldReport(extra: Partial<HeldReport> = {}): HeldReport {
  seq++;
  return {
    endpoint: "store",
    auth: { publicKey: "a".repeat(32), secretKey: null, client: "raven-js/3.27.2", version: 7 },
    projectId: 1,
    clientIp: "10.0.0.1",
    floodUrl: null,
    category: "error",
    limit: 1_048_576,
    body: encoder.encode(`{"event_id":"${seq.toString(16).padStart(32, "0")}"}`),
    ...extra,
  };
}

/** The report as given, without the id the store assigned. */
const fields = ({ id: _id, ...r }: StoredHeldReport): HeldReport => ({ ...r, body: new Uint8Array(r.body) });

export function runHeldStoreContract(name: string, make: MakeHeldStore): void {
  async function withStore(body: (made: MadeHeldStore) => Promise<void>): Promise<void> {
    const made = await make();
    try {
      await body(made);
    } finally {
      await made.cleanup();
    }
  }

  describe(`HeldStore contract: ${name}`, () => {
    test("hold then list returns every field as held, oldest first, with distinct ids; list removes nothing", () =>
      withStore(async ({ store }) => {
        const held = [
          heldReport(),
          heldReport({
            endpoint: "envelope",
            projectId: null,
            clientIp: null,
            category: "transaction",
            auth: { publicKey: "b".repeat(32), secretKey: "c".repeat(32), client: null, version: 7 },
          }),
          heldReport({ floodUrl: "/api/1/store/?sentry_data=x", body: new Uint8Array([0, 255, 10, 13, 0]) }),
        ];
        for (const r of held) await store.hold(r);
        const listed = await store.list(10);
        expect(listed.map(fields)).toEqual(held);
        expect(new Set(listed.map((r) => r.id)).size).toBe(3);
        expect((await store.list(10)).map(fields)).toEqual(held);
        expect([store.count, store.bytes]).toEqual([3, held.reduce((n, r) => n + r.body.byteLength, 0)]);
      }));

    test("list(max) returns the oldest `max`; remove takes exactly those given, twice is harmless", () =>
      withStore(async ({ store }) => {
        const held = [heldReport(), heldReport(), heldReport()];
        for (const r of held) await store.hold(r);
        const first = await store.list(2);
        expect(first.map(fields)).toEqual(held.slice(0, 2));
        await store.remove(first);
        await store.remove(first);
        expect((await store.list(10)).map(fields)).toEqual(held.slice(2));
        expect([store.count, store.bytes]).toEqual([1, held[2]!.body.byteLength]);
        await store.remove(await store.list(10));
        expect(await store.list(10)).toEqual([]);
        expect([store.count, store.bytes]).toEqual([0, 0]);
      }));

    test("two equal reports stay two: removing one leaves the other", () =>
      withStore(async ({ store }) => {
        const r = heldReport();
        await store.hold(r);
        await store.hold({ ...r });
        const [one] = await store.list(1);
        await store.remove([one!]);
        expect((await store.list(10)).map(fields)).toEqual([r]);
      }));

    test("what was held is listed again after a restart, with its totals (durable stores)", async () => {
      await withStore(async ({ store, reopen }) => {
        if (reopen === undefined) return; // memory: lost with the process, as its queue
        const held = [heldReport(), heldReport({ endpoint: "envelope" })];
        for (const r of held) await store.hold(r);
        const again = await reopen();
        const listed = await again.list(10);
        expect(listed.map(fields)).toEqual(held);
        if (again.kind === "sqlite") expect([again.count, again.bytes]).toEqual([2, held.reduce((n, r) => n + r.body.byteLength, 0)]);
        await again.remove(listed);
        expect(await again.list(10)).toEqual([]);
      });
    });
  });
}

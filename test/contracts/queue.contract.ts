/**
 * The Queue contract (src/storage/queue.ts), run against every implementation:
 * test/storage/{memory,sqlite,redis}.test.ts each call `runQueueContract`.
 */
import { describe, expect, test } from "bun:test";
import type { NewItem, QueuedItem } from "../../src/storage/item.ts";
import { QueueFullError, StorageUnavailableError, type Queue, type QueueLimits } from "../../src/storage/queue.ts";

export type MakeQueue = (limits: QueueLimits) => Promise<{ queue: Queue; cleanup: () => Promise<void> }>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const roomy: QueueLimits = { maxItems: 10_000, maxBytes: 100 * 1024 * 1024, newestFirst: true };

let seq = 0;
export function newItem(projectId: number, body: string | Uint8Array = `{"n":${seq}}`, extra: Partial<NewItem> = {}): NewItem {
  seq++;
  return {
    projectId,
    endpoint: "store",
    auth: { publicKey: "a".repeat(32), secretKey: null, client: "raven-js/3.27.2", version: 7 },
    clientIp: "10.0.0.1",
    contentType: "application/json",
    body: typeof body === "string" ? encoder.encode(body) : body,
    eventId: seq.toString(16).padStart(32, "0"),
    receivedAt: 1_700_000_000_000 + seq,
    ...extra,
  };
}

const text = (item: QueuedItem): string => decoder.decode(item.body);

export function runQueueContract(name: string, make: MakeQueue): void {
  /** Runs `body` on a fresh queue and always cleans it up. */
  async function withQueue(limits: Partial<QueueLimits>, body: (q: Queue) => Promise<void>): Promise<void> {
    const { queue, cleanup } = await make({ ...roomy, ...limits });
    try {
      await body(queue);
    } finally {
      await cleanup();
    }
  }

  describe(`Queue contract: ${name}`, () => {
    test("push then take returns every field as pushed, with an id and 0 attempts", () =>
      withQueue({}, async (q) => {
        const pushed = newItem(7, '{"message":"hello"}', {
          endpoint: "envelope",
          contentType: "application/x-sentry-envelope",
          auth: { publicKey: "b".repeat(32), secretKey: "c".repeat(32), client: null, version: 4 },
          clientIp: null,
          eventId: null,
        });
        await q.push(pushed);
        const [got, ...rest] = await q.take(10);
        expect(rest).toEqual([]);
        expect(got).toBeDefined();
        expect(typeof got!.id).toBe("string");
        expect(got!.attempts).toBe(0);
        expect(got!.projectId).toBe(7);
        expect(got!.endpoint).toBe("envelope");
        expect(got!.contentType).toBe("application/x-sentry-envelope");
        expect(got!.auth).toEqual(pushed.auth);
        expect(got!.clientIp).toBeNull();
        expect(got!.eventId).toBeNull();
        expect(got!.receivedAt).toBe(pushed.receivedAt);
        expect(text(got!)).toBe('{"message":"hello"}');
      }));

    test("take on an empty queue returns nothing", () =>
      withQueue({}, async (q) => {
        expect(await q.take(5)).toEqual([]);
      }));

    test("newest first when newestFirst", () =>
      withQueue({ newestFirst: true }, async (q) => {
        for (const b of ["1", "2", "3"]) await q.push(newItem(1, b));
        expect((await q.take(3)).map(text)).toEqual(["3", "2", "1"]);
      }));

    test("oldest first when not newestFirst", () =>
      withQueue({ newestFirst: false }, async (q) => {
        for (const b of ["1", "2", "3"]) await q.push(newItem(1, b));
        expect((await q.take(3)).map(text)).toEqual(["1", "2", "3"]);
      }));

    test("take is fair across projects: a storm in one does not starve another", () =>
      withQueue({}, async (q) => {
        for (let i = 0; i < 100; i++) await q.push(newItem(1, `p1-${i}`));
        await q.push(newItem(2, "p2"));
        const first = await q.take(2);
        expect(first.map((i) => i.projectId).sort()).toEqual([1, 2]);
        const next = await q.take(3);
        expect(next.map((i) => i.projectId)).toEqual([1, 1, 1]);
      }));

    test("round-robin serves every non-empty project once per turn", () =>
      withQueue({}, async (q) => {
        for (const p of [1, 2, 3]) for (let i = 0; i < 3; i++) await q.push(newItem(p, `${p}-${i}`));
        const taken = await q.take(6);
        const firstTurn = taken
          .slice(0, 3)
          .map((i) => i.projectId)
          .sort();
        const secondTurn = taken
          .slice(3)
          .map((i) => i.projectId)
          .sort();
        expect(firstTurn).toEqual([1, 2, 3]);
        expect(secondTurn).toEqual([1, 2, 3]);
      }));

    test("a taken item is leased: not taken again until released", () =>
      withQueue({}, async (q) => {
        await q.push(newItem(1, "a"));
        await q.push(newItem(1, "b"));
        const [one] = await q.take(1);
        const [two] = await q.take(1);
        expect(await q.take(1)).toEqual([]);
        expect(new Set([text(one!), text(two!)])).toEqual(new Set(["a", "b"]));
        expect(one!.id).not.toBe(two!.id);
      }));

    test("ack deletes for good", () =>
      withQueue({}, async (q) => {
        await q.push(newItem(1, "a"));
        const [item] = await q.take(1);
        await q.ack(item!);
        expect(await q.take(1)).toEqual([]);
        const stats = await q.stats();
        expect(stats.items).toBe(0);
        expect(stats.bytes).toBe(0);
        expect(q.approxItems).toBe(0);
      }));

    test("release puts the item back; attempts grow only when failed", () =>
      withQueue({}, async (q) => {
        await q.push(newItem(1, "a"));
        const [first] = await q.take(1);
        await q.release(first!, true);
        const [second] = await q.take(1);
        expect(second!.id).toBe(first!.id);
        expect(second!.attempts).toBe(1);
        expect(text(second!)).toBe("a");
        await q.release(second!, true);
        const [third] = await q.take(1);
        expect(third!.attempts).toBe(2);
        await q.release(third!, false);
        const [fourth] = await q.take(1);
        expect(fourth!.attempts).toBe(2);
        await q.ack(fourth!);
        expect(await q.take(1)).toEqual([]);
      }));

    test("a release is visible to the next take even before it resolves", () =>
      withQueue({}, async (q) => {
        await q.push(newItem(1, "a"));
        const [first] = await q.take(1);
        const released = q.release(first!, true);
        const [again] = await q.take(1);
        await released;
        expect(again?.id).toBe(first!.id);
        expect(again?.attempts).toBe(1);
      }));

    test("stats count items and bytes per project and in total, leased items included", () =>
      withQueue({}, async (q) => {
        await q.push(newItem(1, "12345"));
        await q.push(newItem(1, "123"));
        await q.push(newItem(2, "1234567890"));
        await q.take(1, { isPaused: (p) => p !== 2 });
        const stats = await q.stats();
        expect(stats.items).toBe(3);
        expect(stats.bytes).toBe(18);
        expect(stats.perProject.get(1)).toEqual({ items: 2, bytes: 8 });
        expect(stats.perProject.get(2)).toEqual({ items: 1, bytes: 10 });
        expect(q.approxItems).toBe(3);
      }));

    test("push past maxItems throws QueueFullError(items); room comes back after ack", () =>
      withQueue({ maxItems: 2 }, async (q) => {
        await q.push(newItem(1, "a"));
        await q.push(newItem(2, "b"));
        let error: unknown;
        try {
          await q.push(newItem(3, "c"));
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(QueueFullError);
        expect((error as QueueFullError).reason).toBe("items");
        expect((await q.stats()).items).toBe(2);
        const [taken] = await q.take(1);
        await q.ack(taken!);
        await q.push(newItem(3, "c"));
        expect((await q.stats()).items).toBe(2);
      }));

    test("push past maxBytes throws QueueFullError(bytes)", () =>
      withQueue({ maxBytes: 10 }, async (q) => {
        await q.push(newItem(1, "12345678"));
        let error: unknown;
        try {
          await q.push(newItem(1, "123"));
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(QueueFullError);
        expect((error as QueueFullError).reason).toBe("bytes");
        await q.push(newItem(1, "12"));
        expect((await q.stats()).bytes).toBe(10);
      }));

    test("paused projects are skipped; all paused yields nothing", () =>
      withQueue({}, async (q) => {
        await q.push(newItem(1, "p1"));
        await q.push(newItem(2, "p2a"));
        await q.push(newItem(2, "p2b"));
        const some = await q.take(5, { isPaused: (p) => p === 1 });
        expect(some.map((i) => i.projectId)).toEqual([2, 2]);
        expect(await q.take(5, { isPaused: () => true })).toEqual([]);
        const rest = await q.take(5);
        expect(rest.map(text)).toEqual(["p1"]);
      }));

    test("bodies round-trip byte for byte (every byte value, newlines, large)", () =>
      withQueue({}, async (q) => {
        const all = new Uint8Array(512).map((_, i) => i % 256);
        const large = new Uint8Array(300_000).map((_, i) => (i * 7919) % 251);
        await q.push(newItem(1, all));
        await q.push(newItem(2, large));
        await q.push(newItem(3, new Uint8Array(0)));
        const taken = await q.take(3);
        const byProject = new Map(taken.map((i) => [i.projectId, i.body]));
        expect(byProject.get(1)).toEqual(all);
        expect(byProject.get(2)).toEqual(large);
        expect(byProject.get(3)?.byteLength).toBe(0);
      }));

    test("many items keep their identity and order under interleaved pushes", () =>
      withQueue({ newestFirst: false }, async (q) => {
        await Promise.all(Array.from({ length: 200 }, (_, i) => q.push(newItem(1 + (i % 2), String(i)))));
        const taken = await q.take(500);
        expect(taken.length).toBe(200);
        expect(new Set(taken.map((i) => i.id)).size).toBe(200);
        const p1 = taken.filter((i) => i.projectId === 1).map((i) => Number(text(i)));
        expect(p1).toEqual([...p1].sort((a, b) => a - b));
      }));

    test("push after close is refused with StorageUnavailableError", async () => {
      const { queue, cleanup } = await make(roomy);
      try {
        await queue.close();
        let error: unknown;
        try {
          await queue.push(newItem(1, "late"));
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(StorageUnavailableError);
      } finally {
        await cleanup();
      }
    });
  });
}

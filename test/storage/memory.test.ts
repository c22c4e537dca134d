import { describe, expect, test } from "bun:test";
import { Deque } from "../../src/storage/deque.ts";
import { MemoryQueue } from "../../src/storage/memory.ts";
import { MAX_IDLE_PROJECTS } from "../../src/storage/round-robin.ts";
import { newItem, runQueueContract } from "../contracts/queue.contract.ts";

runQueueContract("memory", async (limits) => {
  const queue = new MemoryQueue(limits);
  return { queue, cleanup: () => queue.close() };
});

describe("MemoryQueue", () => {
  test("push is synchronous and returns undefined", () => {
    const q = new MemoryQueue({ maxItems: 10, maxBytes: 1000, newestFirst: true });
    expect(q.push(newItem(1, "x"))).toBeUndefined();
    expect(q.approxItems).toBe(1);
  });

  test("an item is held as one buffer, so the pushed body can be reused by the caller", async () => {
    const q = new MemoryQueue({ maxItems: 10, maxBytes: 1000, newestFirst: true });
    const item = newItem(1, "body");
    q.push(item);
    item.body.fill(0); // the queue copied it into its own buffer
    const [taken] = await q.take(1);
    expect(new TextDecoder().decode(taken!.body)).toBe("body");
    expect(taken!.eventId).toBe(item.eventId);
    expect(taken!.auth).toEqual(item.auth);
  });

  test("a released item is the next one taken for its project (both orders)", async () => {
    for (const newestFirst of [true, false]) {
      const q = new MemoryQueue({ maxItems: 10, maxBytes: 1000, newestFirst });
      for (const b of ["1", "2", "3"]) q.push(newItem(1, b));
      const [first] = await q.take(1);
      await q.release(first!, true);
      const [again] = await q.take(1);
      expect(again!.id).toBe(first!.id);
    }
  });

  test("stats drop a project once all its items are acked", async () => {
    const q = new MemoryQueue({ maxItems: 10, maxBytes: 1000, newestFirst: true });
    q.push(newItem(4, "x"));
    const [item] = await q.take(1);
    await q.ack(item!);
    expect((await q.stats()).perProject.size).toBe(0);
  });

  test("projects emptied and filled again, past the bound of idle ones, keep the round-robin and the totals", async () => {
    const q = new MemoryQueue({ maxItems: MAX_IDLE_PROJECTS * 3, maxBytes: 10_000_000, newestFirst: true });
    const projects = MAX_IDLE_PROJECTS + 500;
    for (let round = 0; round < 2; round++) {
      for (let p = 1; p <= projects; p++) q.push(newItem(p, `${round}`));
      q.push(newItem(1, "extra"));
      const taken = await q.take(projects + 1);
      // One per project in turn before project 1's second item.
      expect(new Set(taken.slice(0, projects).map((i) => i.projectId)).size).toBe(projects);
      expect(taken[projects]!.projectId).toBe(1);
      for (const item of taken) await q.ack(item);
      expect(q.approxItems).toBe(0);
      expect((await q.stats()).perProject.size).toBe(0);
    }
  });
});

describe("Deque", () => {
  test.each([
    ["an Array", () => new Deque<number>(2)],
    ["a Float64Array (ofNumbers)", () => Deque.ofNumbers(2)],
  ])("in %s: behaves as a double-ended queue across growth, wrap-around and shrink", (_, make) => {
    const d = make();
    const model: number[] = [];
    let x = 0;
    for (let round = 0; round < 2000; round++) {
      const op = (round * 2654435761) % 7;
      if (op < 2) {
        d.pushBack(x);
        model.push(x++);
      } else if (op < 4) {
        d.pushFront(x);
        model.unshift(x++);
      } else if (op < 5) expect(d.popFront()).toBe(model.shift());
      else if (op < 6) expect(d.popBack()).toBe(model.pop());
      else {
        d.pushBack(x);
        model.push(x++);
      }
      expect(d.length).toBe(model.length);
    }
    while (model.length) expect(d.popFront()).toBe(model.shift());
    expect(d.popFront()).toBeUndefined();
    expect(d.popBack()).toBeUndefined();
  });
});

describe("MemoryQueue slabs", () => {
  test("many pushes and acks reuse the same memory: the queue's footprint does not grow", async () => {
    const q = new MemoryQueue({ maxItems: 100_000, maxBytes: 1 << 30, newestFirst: false });
    const body = new Uint8Array(2000).fill(65);
    const cycle = async () => {
      for (let i = 0; i < 2000; i++) q.push({ ...newItem(1, "x"), body });
      for (const item of await q.take(2000)) await q.ack(item);
    };
    await cycle();
    const footprint = (q as unknown as { arena: { bytes: number } }).arena.bytes;
    for (let i = 0; i < 20; i++) await cycle();
    expect((q as unknown as { arena: { bytes: number } }).arena.bytes).toBe(footprint);
    expect(q.approxItems).toBe(0);
  });

  test("memory reused after an ack gets new ids: an acked item's id and retry count do not carry over", async () => {
    const q = new MemoryQueue({ maxItems: 100_000, maxBytes: 1 << 30, newestFirst: false });
    const body = new Uint8Array(2000).fill(66);
    const seen = new Set<string>();
    for (let round = 0; round < 6; round++) {
      // ~1.2 MiB a round: slabs fill, empty and come back for reuse at the offsets of acked items
      for (let i = 0; i < 600; i++) q.push({ ...newItem(1, "x"), body });
      const taken = await q.take(600);
      await q.release(taken[0]!, true); // one failed attempt on the way
      const [retried] = await q.take(1);
      expect(retried!.attempts).toBe(1);
      for (const item of [...taken.slice(1), retried!]) {
        expect(item.attempts).toBe(item === retried ? 1 : 0);
        expect(seen.has(item.id)).toBe(false);
        seen.add(item.id);
        await q.ack(item);
      }
    }
    expect(seen.size).toBe(3600);
  });

  test("slabs pinned by waiting reports count against the byte bound", async () => {
    // Each 1 MiB slab gets 10 reports of 100 KB; 9 are delivered, 1 (a paused project's) waits.
    const maxBytes = 2 << 20;
    const q = new MemoryQueue({ maxItems: 1_000_000, maxBytes, newestFirst: false });
    const body = new Uint8Array(100 * 1000);
    let refused: unknown = null;
    for (let round = 0; round < 100 && refused === null; round++) {
      try {
        q.push({ ...newItem(1, "x"), body });
        for (let i = 0; i < 9; i++) q.push({ ...newItem(2, "x"), body });
      } catch (e) {
        refused = e;
      }
      for (const item of await q.take(9, { isPaused: (p) => p === 1 })) await q.ack(item);
    }
    expect(String(refused)).toContain("queue full");
    // refused on the slabs' footprint while the waiting reports were well under the byte bound
    expect((await q.stats()).bytes).toBeLessThan(maxBytes);
  });
});

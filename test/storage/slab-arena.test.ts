import { describe, expect, test } from "bun:test";
import { SlabArena } from "../../src/storage/slab-arena.ts";

describe("SlabArena", () => {
  test("packs allocations into one slab, side by side", () => {
    const arena = new SlabArena(1024);
    const a = arena.allocate(100);
    const b = arena.allocate(100);
    expect(a.slab).toBe(b.slab);
    expect(a.view.byteLength).toBe(100);
    expect(b.view.byteOffset).toBe(a.view.byteOffset + 100);
    a.view.fill(1);
    expect(b.view.every((x) => x === 0)).toBe(true); // no overlap
    expect(arena.bytes).toBe(1024);
  });

  test("a slab whose reports are all freed is reused, not reallocated", () => {
    const arena = new SlabArena(4096);
    const first = Array.from({ length: 4 }, () => arena.allocate(800)); // 3200 of 4096
    for (const a of first) arena.free(a.slab);
    const next = arena.allocate(1000); // does not fit the rest: the emptied slab starts over
    expect(next.slab).toBe(first[0]!.slab);
    expect(next.view.byteOffset).toBe(0);
    expect(arena.bytes).toBe(4096);
  });

  test("a slab with a live report is not reused", () => {
    const arena = new SlabArena(4096);
    const pinned = arena.allocate(1000);
    const others = Array.from({ length: 3 }, () => arena.allocate(1000));
    for (const o of others) arena.free(o.slab);
    const later = arena.allocate(1000); // needs a new slab: the first still holds `pinned`
    expect(later.slab).not.toBe(pinned.slab);
    pinned.view.fill(7);
    later.view.fill(9);
    expect(pinned.view.every((x) => x === 7)).toBe(true);
  });

  test("large reports get an allocation of their own, given back when freed", () => {
    const arena = new SlabArena(1024);
    const big = arena.allocate(900); // over a quarter slab
    expect(big.view.byteLength).toBe(900);
    expect(arena.bytes).toBe(900);
    arena.free(big.slab);
    expect(arena.bytes).toBe(0);
  });
});

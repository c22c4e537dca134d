import { describe, expect, test } from "bun:test";
import { SlabArena } from "../../src/storage/slab-arena.ts";

/** Each report is stored behind its 4-byte length. */
const LENGTH = 4;

describe("SlabArena", () => {
  test("packs allocations into one slab, side by side", () => {
    const arena = new SlabArena(1024);
    const a = arena.allocate(100);
    const b = arena.allocate(100);
    expect(arena.slabNumber(a)).toBe(arena.slabNumber(b));
    expect(arena.view(a).byteLength).toBe(100);
    expect(arena.view(b).byteOffset).toBe(arena.view(a).byteOffset + 100 + LENGTH);
    arena.view(a).fill(1);
    expect(arena.view(b).every((x) => x === 0)).toBe(true); // no overlap
    expect(arena.view(a).every((x) => x === 1)).toBe(true); // and the length before b is intact
    expect(arena.bytes).toBe(1024);
  });

  test("a handle finds its report's exact bytes, whatever their length", () => {
    const arena = new SlabArena(1 << 16);
    const sizes = [0, 1, 255, 256, 4000, 65_535 - LENGTH, 70_000];
    const handles = sizes.map((n, i) => {
      const h = arena.allocate(n);
      arena.view(h).fill(i + 1);
      return h;
    });
    handles.forEach((h, i) => {
      const v = arena.view(h);
      expect(v.byteLength).toBe(sizes[i]!);
      expect(v.every((x) => x === i + 1)).toBe(true);
    });
  });

  test("handles are plain numbers", () => {
    const arena = new SlabArena(1024);
    expect(typeof arena.allocate(10)).toBe("number");
  });

  test("a slab whose reports are all freed is reused, not reallocated", () => {
    const arena = new SlabArena(4096);
    const first = Array.from({ length: 4 }, () => arena.allocate(800)); // 3216 of 4096
    for (const a of first) arena.free(a);
    const next = arena.allocate(1000); // does not fit the rest: the emptied slab starts over
    expect(arena.slabNumber(next)).toBe(arena.slabNumber(first[0]!));
    expect(arena.view(next).byteOffset).toBe(LENGTH);
    expect(arena.bytes).toBe(4096);
  });

  test("a slab with a live report is not reused", () => {
    const arena = new SlabArena(4096);
    const pinned = arena.allocate(1000);
    const others = Array.from({ length: 3 }, () => arena.allocate(1000));
    for (const o of others) arena.free(o);
    const later = arena.allocate(1000); // needs a new slab: the first still holds `pinned`
    expect(arena.slabNumber(later)).not.toBe(arena.slabNumber(pinned));
    arena.view(pinned).fill(7);
    arena.view(later).fill(9);
    expect(arena.view(pinned).every((x) => x === 7)).toBe(true);
  });

  test("large reports get an allocation of their own, given back when freed", () => {
    const arena = new SlabArena(1024);
    const big = arena.allocate(900); // over a quarter slab
    expect(arena.view(big).byteLength).toBe(900);
    expect(arena.bytes).toBe(900 + LENGTH);
    arena.free(big);
    expect(arena.bytes).toBe(0);
  });

  test("numbers of slabs given back are reused, so handles stay small", () => {
    const arena = new SlabArena(1024);
    for (let i = 0; i < 1000; i++) arena.free(arena.allocate(900)); // own slabs, each given back
    const h = arena.allocate(900);
    expect(arena.slabNumber(h)).toBeLessThan(2);
    expect(() => arena.view(2 ** 40)).toThrow(RangeError);
  });
});

import { describe, expect, test } from "bun:test";
import { CHUNK_BYTES, populatePages, SlabMemory } from "../../src/storage/slab-memory.ts";

const linux = process.platform === "linux";
const SLAB = 1 << 20;

function probe(env: Record<string, string> = {}) {
  const run = Bun.spawnSync([process.execPath, "test/fixtures/slab-memory-probe.ts"], { env: { ...process.env, ...env } });
  if (run.exitCode !== 0) throw new Error(`probe failed (${run.exitCode}): ${run.stderr.toString()}`);
  return JSON.parse(run.stdout.toString()) as { mapped: boolean; faults: number; pages: number; intact: boolean; rssStart: number; rssFull: number; rssAfter: number };
}

describe("SlabMemory", () => {
  test("slabs have the asked size, are writable and never overlap, across chunks", () => {
    const memory = new SlabMemory(SLAB);
    const slabs = Array.from({ length: (2 * CHUNK_BYTES) / SLAB + 1 }, () => memory.take());
    slabs.forEach((s, i) => {
      expect(s.byteLength).toBe(SLAB);
      s.fill(i);
    });
    slabs.forEach((s, i) => {
      expect(s[0]).toBe(i);
      expect(s[SLAB - 1]).toBe(i);
    });
  });

  test.if(linux)("on Linux the slabs come from mappings", () => {
    expect(new SlabMemory(SLAB).mapped).toBe(true);
  });

  test("a slab size that does not divide a chunk gets plain allocations", () => {
    const memory = new SlabMemory(3000);
    expect(memory.mapped).toBe(false);
    const slab = memory.take();
    expect(slab.byteLength).toBe(3000);
    slab.fill(5);
    expect(slab.every((b) => b === 5)).toBe(true);
  });

  test.if(linux)("huge pages: writing fresh slabs takes almost no page faults, where 4 KiB pages take one each", () => {
    const huge = probe({ CYCLOPS_MAP_SLABS: "huge" });
    expect(huge.mapped).toBe(true);
    expect(huge.intact).toBe(true);
    expect(huge.faults).toBeLessThan(huge.pages / 20);
    const small = probe({ CYCLOPS_MAP_SLABS: "small" });
    expect(small.mapped).toBe(true);
    expect(small.intact).toBe(true);
    expect(small.faults).toBeGreaterThan(small.pages / 2);
  });

  test.if(linux)("left to choose, it writes intact slabs from mappings of either kind", () => {
    const chosen = probe();
    expect(chosen.mapped).toBe(true);
    expect(chosen.intact).toBe(true);
  });

  test.if(linux)("dropped slabs give their pages back to the kernel once collected", () => {
    const r = probe();
    expect(r.rssFull - r.rssStart).toBeGreaterThan(48); // 64 MiB were written
    expect(r.rssAfter).toBeLessThan(r.rssFull - 32);
  });

  test.if(linux)("CYCLOPS_MAP_SLABS=0 turns mapping (and populating) off", () => {
    const r = probe({ CYCLOPS_MAP_SLABS: "0" });
    expect(r.mapped).toBe(false);
    expect(r.intact).toBe(true);
    expect(r.faults).toBeGreaterThan(r.pages / 2);
  });
});

describe("populatePages", () => {
  test.if(linux)("keeps the contents and leaves the buffer writable", () => {
    const buffer = new Uint8Array(1 << 20);
    buffer[0] = 7;
    buffer[buffer.length - 1] = 9;
    expect(populatePages(buffer)).toBe(true);
    expect(buffer[0]).toBe(7);
    expect(buffer[buffer.length - 1]).toBe(9);
    expect(buffer.subarray(1, -1).every((b) => b === 0)).toBe(true);
    buffer.fill(3);
    expect(buffer.every((b) => b === 3)).toBe(true);
  });

  test("less than one whole page is left alone", () => {
    expect(populatePages(new Uint8Array(100))).toBe(false);
  });
});

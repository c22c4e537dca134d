/**
 * Where the memory queue's slabs get their pages: mapped straight from the kernel in 8 MiB chunks
 * on 2 MiB boundaries, each slab's pages mapped in one madvise(MADV_POPULATE_WRITE) call, with
 * transparent huge pages asked for (MADV_HUGEPAGE) where they are the cheaper kind.
 *
 * Why: the memory queue keeps every report it is given, so a storm against a Sentry that is down
 * is one new 4 KiB page per two reports, and on virtual machines a page fault is expensive.
 * Which kind of page is cheaper differs between machines and over time; page-kind.ts chooses per
 * chunk by what each kind has cost lately.
 *
 * A chunk is one ArrayBuffer over the mapping whose finalizer is munmap itself (JavaScriptCore's
 * bytes deallocator is called as (bytes, context), and munmap(address, length) takes the same two
 * registers), so the pages go back to the kernel only when the garbage collector has proved that
 * no slab view into them is left. Nothing frees them by hand, so nothing can use them after.
 *
 * Anything unexpected (not Linux, no libc, mmap refused) falls back for the rest of the process
 * to ordinary allocations whose pages are populated the same way (Linux 5.14+), and failing that
 * faulted in one by one. CYCLOPS_MAP_SLABS=0 asks for the plain allocations; =huge or =small
 * always takes that kind of page.
 */
import { type PageKind, PageKindChooser } from "./page-kind.ts";

const PAGE = 4096;
const HUGE_PAGE = 2 << 20;
/** Bytes mapped at a time: several slabs, so the mmap calls stay rare. */
export const CHUNK_BYTES = 8 << 20;

const PROT_READ_WRITE = 0x1 | 0x2;
const MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
const MADV_HUGEPAGE = 14;
const MADV_POPULATE_WRITE = 23;

interface Libc {
  mmap(bytes: number): number | null;
  munmap(address: number, bytes: number): void;
  madvise(address: number, bytes: number, advice: number): boolean;
  /** munmap's own address, for the ArrayBuffer finalizer. */
  munmapPointer: number;
  toArrayBuffer(address: number, bytes: number, finalizer: number): ArrayBuffer;
  address(buffer: Uint8Array): number;
}

let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (process.platform !== "linux" || process.env.CYCLOPS_MAP_SLABS === "0") return null;
  try {
    const ffi = require("bun:ffi") as typeof import("bun:ffi");
    const { symbols } = ffi.dlopen("libc.so.6", {
      mmap: { args: [ffi.FFIType.ptr, ffi.FFIType.u64, ffi.FFIType.i32, ffi.FFIType.i32, ffi.FFIType.i32, ffi.FFIType.i64], returns: ffi.FFIType.u64 },
      munmap: { args: [ffi.FFIType.ptr, ffi.FFIType.u64], returns: ffi.FFIType.i32 },
      madvise: { args: [ffi.FFIType.ptr, ffi.FFIType.u64, ffi.FFIType.i32], returns: ffi.FFIType.i32 },
    });
    const munmapPointer = (symbols.munmap as unknown as { ptr: number }).ptr;
    if (typeof munmapPointer !== "number" || munmapPointer === 0) return null;
    return {
      mmap(bytes) {
        const address = Number(symbols.mmap(null, bytes, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0));
        // MAP_FAILED is (void*)-1, which comes back as 2^64 - 1 (and rounds to 2^64 as a number).
        return address === 0 || address >= 2 ** 63 ? null : address;
      },
      munmap: (address, bytes) => void symbols.munmap(address, bytes),
      madvise: (address, bytes, advice) => symbols.madvise(address, bytes, advice) === 0,
      munmapPointer,
      // The context argument is the length: the finalizer runs munmap(bytes, length).
      toArrayBuffer: (address, bytes, finalizer) => (ffi.toArrayBuffer as (...a: unknown[]) => ArrayBuffer)(address, 0, bytes, bytes, finalizer),
      address: (buffer) => ffi.ptr(buffer),
    };
  } catch {
    return null;
  }
}

function forcedPageKind(): PageKind | null {
  const forced = process.env.CYCLOPS_MAP_SLABS;
  return forced === "huge" || forced === "small" ? forced : null;
}

function getLibc(): Libc | null {
  if (libc === undefined) libc = loadLibc();
  return libc;
}

/**
 * A mapping of `bytes` (a multiple of HUGE_PAGE) starting on a huge-page boundary, with huge pages
 * asked for if `huge`; null when mmap refuses. Maps one huge page more and trims both ends to align.
 */
function mapAligned(c: Libc, bytes: number, huge: boolean): ArrayBuffer | null {
  const raw = c.mmap(bytes + HUGE_PAGE);
  if (raw === null) return null;
  const start = Math.ceil(raw / HUGE_PAGE) * HUGE_PAGE;
  if (start > raw) c.munmap(raw, start - raw);
  const tail = raw + HUGE_PAGE - start;
  if (tail > 0) c.munmap(start + bytes, tail);
  if (huge) c.madvise(start, bytes, MADV_HUGEPAGE); // advisory: without THP the pages are ordinary ones
  return c.toArrayBuffer(start, bytes, c.munmapPointer);
}

/** Maps the whole pages inside `buffer` in one call; whether it did. */
export function populatePages(buffer: Uint8Array): boolean {
  const c = getLibc();
  if (c === null) return false;
  const start = c.address(buffer);
  const first = Math.ceil(start / PAGE) * PAGE;
  const last = Math.floor((start + buffer.byteLength) / PAGE) * PAGE;
  return last > first && c.madvise(first, last - first, MADV_POPULATE_WRITE);
}

/** Hands out slab-sized pieces of mapped chunks (or plain allocations when mapping is off). */
export class SlabMemory {
  private chunk: ArrayBuffer | null = null;
  private offset = 0;
  private readonly pages = new PageKindChooser(forcedPageKind());
  private chunkKind: PageKind = "small";
  /** Ms spent populating the current chunk's slabs so far. */
  private chunkMs = 0;
  /** False once mapping failed or is turned off: plain allocations from then on. */
  private mapping = true;

  /** `slabBytes` must divide CHUNK_BYTES for the chunks to be used whole. */
  constructor(private readonly slabBytes: number) {
    if (CHUNK_BYTES % slabBytes !== 0) this.mapping = false;
  }

  /** The kind of page most chunks get now. */
  get pageKind(): PageKind {
    return this.pages.preferred;
  }

  /** Whether slabs come from mappings (of either kind of page). */
  get mapped(): boolean {
    return this.mapping && getLibc() !== null;
  }

  /** A new slab of slabBytes bytes. Its contents are unspecified (zero or a freed slab's). */
  take(): Uint8Array {
    const fromChunk = this.fromChunk();
    const slab = fromChunk ?? new Uint8Array(this.slabBytes);
    // With transparent huge pages this is the huge page's one fault; with 4 KiB pages (chosen,
    // disabled by the operator, or a plain allocation) one call instead of a fault per page.
    const t0 = performance.now();
    populatePages(slab);
    if (fromChunk !== null) this.chunkMs += performance.now() - t0;
    return slab;
  }

  /** The next slab of the current chunk, mapping a new chunk when it is used up; null when mapping is off. */
  private fromChunk(): Uint8Array | null {
    const c = this.mapping ? getLibc() : null;
    if (c === null) return null;
    if (this.chunk === null || this.offset === CHUNK_BYTES) {
      if (this.chunk !== null) this.pages.record(this.chunkKind, this.chunkMs);
      this.chunkKind = this.pages.next();
      this.chunkMs = 0;
      this.chunk = mapAligned(c, CHUNK_BYTES, this.chunkKind === "huge");
      this.offset = 0;
    }
    if (this.chunk === null) {
      this.mapping = false;
      return null;
    }
    const slab = new Uint8Array(this.chunk, this.offset, this.slabBytes);
    this.offset += this.slabBytes;
    return slab;
  }
}

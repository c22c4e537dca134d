/**
 * Maps a new slab's pages in one system call (madvise MADV_POPULATE_WRITE, Linux 5.14+) instead
 * of one page fault per 4 KiB as the first reports are copied in.
 *
 * Why: on virtual machines a page fault is expensive. On this project's machines (docs/BENCHMARKS.md)
 * a first touch costs 12–17 µs per page; populated in one call it costs about 1 µs per page plus a
 * cheaper first write (about 8 µs). The memory queue keeps every report it is given, so a storm
 * against a Sentry that is down is one new page per two reports.
 *
 * Anything unexpected (not Linux, no libc, an older kernel answering EINVAL) turns it into a no-op
 * for the rest of the process: the pages then fault in one by one as before.
 */
const MADV_POPULATE_WRITE = 23;
const PAGE = 4096;

type Madvise = (address: number, length: number, advice: number) => number;
let madvise: Madvise | null | undefined;

function load(): Madvise | null {
  if (process.platform !== "linux" || process.env.CYCLOPS_POPULATE_SLABS === "0") return null;
  try {
    const ffi = require("bun:ffi") as typeof import("bun:ffi");
    const libc = ffi.dlopen("libc.so.6", {
      madvise: { args: [ffi.FFIType.ptr, ffi.FFIType.u64, ffi.FFIType.i32], returns: ffi.FFIType.i32 },
    });
    return (address, length, advice) => libc.symbols.madvise(address, length, advice) as number;
  } catch {
    return null;
  }
}

/** Populates the whole pages inside `buffer`; returns whether it did. */
export function populatePages(buffer: Uint8Array): boolean {
  if (madvise === undefined) madvise = load();
  if (madvise === null || buffer.byteLength < PAGE) return false;
  const { ptr } = require("bun:ffi") as typeof import("bun:ffi");
  const start = ptr(buffer);
  const first = Math.ceil(start / PAGE) * PAGE;
  const last = Math.floor((start + buffer.byteLength) / PAGE) * PAGE;
  if (last <= first) return false;
  if (madvise(first, last - first, MADV_POPULATE_WRITE) !== 0) {
    madvise = null; // not supported here: stop trying
    return false;
  }
  return true;
}

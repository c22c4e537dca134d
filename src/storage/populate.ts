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

/** Populates the whole pages of a buffer: whether madvise took it, null when there is no whole page. */
type Populate = (buffer: Uint8Array) => boolean | null;
let populate: Populate | null | undefined;

function load(): Populate | null {
  if (process.platform !== "linux" || process.env.CYCLOPS_POPULATE_SLABS === "0") return null;
  try {
    const ffi = require("bun:ffi") as typeof import("bun:ffi");
    const libc = ffi.dlopen("libc.so.6", {
      madvise: { args: [ffi.FFIType.ptr, ffi.FFIType.u64, ffi.FFIType.i32], returns: ffi.FFIType.i32 },
    });
    return (buffer) => {
      const start = ffi.ptr(buffer);
      const first = Math.ceil(start / PAGE) * PAGE;
      const last = Math.floor((start + buffer.byteLength) / PAGE) * PAGE;
      return last > first ? libc.symbols.madvise(first, last - first, MADV_POPULATE_WRITE) === 0 : null;
    };
  } catch {
    return null;
  }
}

/** Populates the whole pages inside `buffer`; returns whether it did. */
export function populatePages(buffer: Uint8Array): boolean {
  if (populate === undefined) populate = load();
  if (populate === null) return false;
  const done = populate(buffer);
  if (done === false) populate = null; // madvise refused (older kernel): not supported here, stop trying
  return done === true;
}

/**
 * Keeps memory the gateway has touched instead of handing it back to the OS mid-storm.
 *
 * Why: Bun allocates request bodies and other native buffers with mimalloc, which returns freed
 * pages to the OS ("purges" them) 10 ms after they are freed. Under a report storm the same
 * pages are needed again a moment later, and touching a page the OS took back is a page fault.
 * On the virtual machines cyclops runs on (measured: Firecracker, balloon with free-page
 * reporting) such a fault costs 13–15 µs per 4 KiB page (bench/: `minor faults per request`),
 * which at 2 KB reports is a third of the whole ingest budget. Keeping freed pages, a storm
 * reuses its own memory; the price is that the process keeps its high-water mark of native
 * memory after a storm (bounded like everything else by MAX_QUEUE_BYTES and the connections).
 *
 * mimalloc reads its options from the environment once, when the process starts, so the only
 * way to set one for ourselves is to start again with it: `serve` replaces its own process image
 * (execve: same pid, same open files, same arguments) before loading anything else. An operator's
 * own MIMALLOC_PURGE_DELAY is respected; CYCLOPS_KEEP_FREED_MEMORY=0 turns this off. Anything
 * unexpected (not Linux, no /proc, no glibc) leaves the process as it is.
 */
import { readFileSync } from "node:fs";

/**
 * mimalloc's purge delay: -1 = never give freed pages back. A finite delay does not hold: Bun
 * forces mimalloc to collect after its own garbage collections, which purges whatever is free
 * regardless of the delay (measured: a 60 s delay left the faults per request unchanged).
 */
export const PURGE_DELAY = "-1";

/** The environment to restart with, or null when no restart is wanted. Pure, for tests. */
export function allocatorEnvironment(env: Record<string, string | undefined>, platform: string): Record<string, string> | null {
  if (platform !== "linux") return null;
  if (env.MIMALLOC_PURGE_DELAY !== undefined) return null; // set by the operator, or by our own restart
  if (env.CYCLOPS_KEEP_FREED_MEMORY === "0") return null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  out.MIMALLOC_PURGE_DELAY = PURGE_DELAY;
  return out;
}

/** C strings for execve: one NUL-terminated buffer per string and a NULL-terminated pointer array. */
function cStringArray(ffi: typeof import("bun:ffi"), strings: string[]): { pointers: BigUint64Array; keep: Buffer[] } {
  const keep = strings.map((s) => Buffer.from(`${s}\0`, "utf8"));
  const pointers = new BigUint64Array(keep.length + 1);
  keep.forEach((b, i) => (pointers[i] = BigInt(ffi.ptr(b))));
  return { pointers, keep };
}

/** Restarts this process with the allocator settings above; returns only when it does not. */
export function restartWithAllocatorSettings(): void {
  const env = allocatorEnvironment(process.env, process.platform);
  if (env === null) return;
  try {
    const argv = readFileSync("/proc/self/cmdline", "utf8").split("\0");
    if (argv.at(-1) === "") argv.pop();
    if (argv.length === 0) return;
    const ffi = require("bun:ffi") as typeof import("bun:ffi");
    const libc = ffi.dlopen("libc.so.6", {
      execve: { args: [ffi.FFIType.ptr, ffi.FFIType.ptr, ffi.FFIType.ptr], returns: ffi.FFIType.i32 },
    });
    const path = Buffer.from("/proc/self/exe\0", "utf8");
    const args = cStringArray(ffi, argv);
    const vars = cStringArray(
      ffi,
      Object.entries(env).map(([k, v]) => `${k}=${v}`),
    );
    libc.symbols.execve(ffi.ptr(path), ffi.ptr(args.pointers), ffi.ptr(vars.pointers));
    // execve returned: it failed (e.g. a seccomp policy); carry on with the default allocator.
    libc.close();
  } catch {
    // No glibc or no /proc: carry on with the default allocator.
  }
}

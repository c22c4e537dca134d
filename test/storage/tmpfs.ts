/**
 * A small tmpfs for full-disk tests: `mount -t tmpfs` needs root (CI runs as root). Where mount is
 * not permitted the tests skip with a message, unless CYCLOPS_REQUIRE_SERVICES=1, where they fail.
 */
import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, openSync, closeSync, writeSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RESERVE_BYTES } from "../../src/storage/sqlite-space.ts";

export interface Tmpfs {
  dir: string;
  /** Fills the filesystem with a file of zeros until ENOSPC; returns its path. */
  fill(name?: string): string;
  unmount(): void;
}

/** Mounts a tmpfs of `bytes`; null (with a message) when mounting is not permitted here. */
export function mountTmpfs(bytes: number): Tmpfs | null {
  const dir = mkdtempSync(join(tmpdir(), "cyclops-tmpfs-"));
  const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${bytes},mode=0700`, "tmpfs", dir], { stderr: "pipe" });
  if (mount.exitCode !== 0) {
    rmSync(dir, { recursive: true, force: true });
    const why = `cannot mount a tmpfs (${new TextDecoder().decode(mount.stderr).trim() || `exit ${mount.exitCode}`})`;
    if (process.env.CYCLOPS_REQUIRE_SERVICES === "1") throw new Error(`${why}; CYCLOPS_REQUIRE_SERVICES=1 forbids skipping`);
    console.warn(`[skip] full-disk tests: ${why}`);
    return null;
  }
  return {
    dir,
    fill(name = "filler") {
      const path = join(dir, name);
      const fd = openSync(path, "a");
      const chunk = new Uint8Array(64 * 1024);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        if ((e as { code?: string }).code !== "ENOSPC") throw e;
      } finally {
        closeSync(fd);
      }
      // The last, partial chunk: fill what is left to the byte.
      const rest = openSync(path, "a");
      try {
        for (let size = 4096; size >= 1; size >>= 1) {
          try {
            for (;;) writeSync(rest, chunk, 0, size);
          } catch {
            // next smaller size
          }
        }
      } finally {
        closeSync(rest);
      }
      return path;
    },
    unmount() {
      Bun.spawnSync(["umount", "-l", dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * For the tests of the calling describe block: a tmpfs with room for a spool's reserve and 24 MiB,
 * mounted before them and unmounted after. The getter answers null where mounting is not permitted.
 */
export function spoolTmpfs(): () => Tmpfs | null {
  let fs: Tmpfs | null = null;
  beforeAll(() => {
    fs = mountTmpfs(RESERVE_BYTES + 24 * 1024 * 1024);
  });
  afterAll(() => fs?.unmount());
  return () => fs;
}

/**
 * The SQLite spool's room on disk: its files' modes, and a reserve that lets it heal after a
 * full disk (issue 18).
 *
 * On a full disk even a DELETE fails in WAL mode (the freed pages are written to the WAL first),
 * so a spool that filled the disk could neither drop what it had delivered nor get healthy again.
 * A reserve file of RESERVE_BYTES beside the spool (`<path>-reserve`) holds room for that: when a
 * write fails for want of space, the reserve is given back to the filesystem, new reports are
 * refused, and acks, releases and checkpoints go on in the room it leaves. The reserve is written
 * again (with real blocks, not a sparse file) once the filesystem has room for it, which is what
 * "space has returned" means.
 *
 * The spool holds project keys, client addresses and report bodies: its files are 0600.
 */
import * as fs from "node:fs";
import { dirname } from "node:path";

/** Room kept for deletes and checkpoints: ~3,000 deleted rows of 2 KB events, with their pages. */
export const RESERVE_BYTES = 8 * 1024 * 1024;
/** How often a full or failing spool tries to heal (health checks and pushes ask more often). */
export const PROBE_INTERVAL_MS = 1000;
const CHUNK = 1024 * 1024;
const OWNER_ONLY = 0o600;

/** SQLite's "database or disk is full" (SQLITE_FULL), or the OS's ENOSPC/EDQUOT on our own files. */
export function isDiskFull(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err.code === "SQLITE_FULL" || err.code === "ENOSPC" || err.code === "EDQUOT" || /disk is full|no space left/i.test(err.message ?? "");
}

export class SpoolSpace {
  readonly reservePath: string;
  private lastProbe = 0;

  constructor(
    readonly path: string,
    readonly reserveBytes = RESERVE_BYTES,
    private readonly now: () => number = Date.now,
  ) {
    this.reservePath = `${path}-reserve`;
  }

  /**
   * Creates the spool file 0600 before SQLite does (SQLite gives its -wal and -shm files the
   * database file's mode), and takes group and other access from files an older version left.
   * True when the spool file is new (empty).
   */
  secureFiles(): boolean {
    if (this.path === ":memory:") return true;
    const fd = fs.openSync(this.path, fs.constants.O_CREAT | fs.constants.O_RDWR, OWNER_ONLY);
    const fresh = fs.fstatSync(fd).size === 0;
    fs.closeSync(fd);
    for (const file of [this.path, `${this.path}-wal`, `${this.path}-shm`, this.reservePath]) {
      try {
        if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, OWNER_ONLY);
      } catch {
        // absent: SQLite creates it from the database file's mode
      }
    }
    return fresh;
  }

  /** Writes the reserve when it is missing or short; false when the filesystem has no room for it. */
  ensureReserve(): boolean {
    if (this.reserveBytes <= 0 || this.path === ":memory:") return true;
    try {
      if (fs.statSync(this.reservePath).size >= this.reserveBytes) return true;
    } catch {
      // missing: write it
    }
    const tmp = `${this.reservePath}.tmp`;
    let fd: number | null = null;
    try {
      fd = fs.openSync(tmp, "w", OWNER_ONLY);
      const zeros = new Uint8Array(Math.min(CHUNK, this.reserveBytes));
      for (let written = 0; written < this.reserveBytes; ) {
        written += fs.writeSync(fd, zeros, 0, Math.min(zeros.length, this.reserveBytes - written));
      }
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fd = null;
      fs.renameSync(tmp, this.reservePath);
      return true;
    } catch {
      if (fd !== null) fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      return false;
    }
  }

  /** Gives the reserve back to the filesystem, so deletes and checkpoints find room. */
  release(): void {
    fs.rmSync(this.reservePath, { force: true });
  }

  /**
   * Less free room than `reserves` reserves. One: the disk, not a file-size cap, is what is full.
   * Two, to heal: room for the reserve and as much again for new reports, so that taking them does
   * not fill the disk again at once.
   */
  isLow(reserves = 1): boolean {
    try {
      const s = fs.statfsSync(dirname(this.path));
      return s.bavail * s.bsize < reserves * this.reserveBytes;
    } catch {
      return true;
    }
  }

  /** True at most once per PROBE_INTERVAL_MS; `touch` starts the interval over (after a failure). */
  probeDue(touch = false): boolean {
    const t = this.now();
    if (!touch && t - this.lastProbe < PROBE_INTERVAL_MS) return false;
    this.lastProbe = t;
    return !touch;
  }
}

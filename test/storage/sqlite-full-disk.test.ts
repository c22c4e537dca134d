/**
 * The SQLite spool on a full disk (issue 18, item 4), on a real small tmpfs: pushes are refused
 * while full, deletes of delivered rows still succeed, the spool reports healthy again on its own
 * once space returns, a restart on a full disk opens and serves what it holds, and nothing whose
 * push resolved is lost. Also: its files are 0600.
 */
import { describe, expect, test } from "bun:test";
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { StorageUnavailableError, type QueueLimits } from "../../src/storage/queue.ts";
import { PROBE_INTERVAL_MS, RESERVE_BYTES } from "../../src/storage/sqlite-space.ts";
import { SqliteQueue } from "../../src/storage/sqlite.ts";
import { newItem } from "../contracts/queue.contract.ts";
import { tempDir } from "../helpers/gateway.ts";
import { spoolTmpfs } from "./tmpfs.ts";

const limits: QueueLimits = { maxItems: 100_000, maxBytes: 1 << 30, newestFirst: false };
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const body = (i: number) => `${i}:`.padEnd(16 * 1024, "x");

describe("SqliteQueue files", () => {
  test("the spool, its WAL and its reserve are created 0600, and an older 0644 spool is tightened", async () => {
    const dir = tempDir();
    const path = join(dir, "spool.sqlite");
    const q = new SqliteQueue(path, limits, { reserveBytes: 64 * 1024 });
    await q.push(newItem(1, "x"));
    for (const file of [path, `${path}-wal`, `${path}-reserve`]) expect({ file, mode: (statSync(file).mode & 0o777).toString(8) }).toEqual({ file, mode: "600" });
    await q.close();
    Bun.spawnSync(["chmod", "0644", path]);
    const again = new SqliteQueue(path, limits, { reserveBytes: 64 * 1024 });
    expect((statSync(path).mode & 0o777).toString(8)).toBe("600");
    await again.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("SqliteQueue on a full disk", () => {
  const tmpfs = spoolTmpfs();

  test("refuses pushes while full, acks still succeed, heals without a push, restarts on a full disk; nothing acknowledged lost", async () => {
    const fs = tmpfs();
    if (!fs) return;
    const path = join(fs.dir, "spool.sqlite");
    let q = new SqliteQueue(path, limits);
    expect(statSync(`${path}-reserve`).size).toBe(RESERVE_BYTES);
    // Some reports, then the disk fills up (another process, a log file…).
    const stored: string[] = [];
    for (let i = 0; i < 200; i++) {
      await q.push(newItem(1, body(i)));
      stored.push(body(i));
    }
    const filler = fs.fill();
    let refused = 0;
    for (let i = 200; i < 400; i++) {
      try {
        await q.push(newItem(1, body(i)));
        stored.push(body(i));
      } catch (e) {
        expect(e).toBeInstanceOf(StorageUnavailableError);
        expect((e as StorageUnavailableError).retryAfter).toBeGreaterThan(0);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
    expect(q.problem()).toContain("disk full");

    // A restart on the full disk opens the spool and serves what it holds. (Closing checkpoints
    // and removes the WAL, which frees room: whatever else writes there takes it.)
    await q.close();
    const filler2 = fs.fill("filler2");
    q = new SqliteQueue(path, limits);
    expect(q.approxItems).toBe(stored.length);
    expect(q.problem()).toContain("disk full");
    await expect(q.push(newItem(1, "while full"))).rejects.toBeInstanceOf(StorageUnavailableError);

    // Deliver half: the acks go through (deletes kept for later when even they find no room).
    const delivered: string[] = [];
    const half = await q.take(Math.floor(stored.length / 2));
    for (const item of half) {
      await q.ack(item); // resolves even where the delete waits for room
      delivered.push(text(item.body));
    }
    expect(q.approxItems).toBe(stored.length - half.length);
    console.log(`[full-disk] ${stored.length} stored, ${refused} refused while full, ${half.length} delivered after a restart on the full disk`);
    expect(q.problem()).toContain("disk full");

    // Space returns: healthy again within the probe interval, with no push.
    rmSync(filler);
    rmSync(filler2);
    await Bun.sleep(PROBE_INTERVAL_MS + 100);
    expect(q.problem()).toBeNull();
    await q.push(newItem(1, "after"));
    stored.push("after");

    // Nothing acknowledged is lost: what is left plus what was delivered is everything stored.
    const rest = await q.take(100_000);
    expect([...delivered, ...rest.map((i) => text(i.body))].sort()).toEqual([...stored].sort());
    for (const item of rest) await q.ack(item);
    await q.close();

    // And the deletes made while full reached the file: a reopened spool is empty.
    const reopened = new SqliteQueue(path, limits);
    expect(reopened.approxItems).toBe(0);
    await reopened.close();
  });
});

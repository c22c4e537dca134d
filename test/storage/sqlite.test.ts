import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StorageUnavailableError, type QueueLimits } from "../../src/storage/queue.ts";
import { SqliteQueue } from "../../src/storage/sqlite.ts";
import { newItem, runQueueContract } from "../contracts/queue.contract.ts";

const dir = mkdtempSync(join(tmpdir(), "cyclops-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `spool-${n++}.sqlite`);
const limits: QueueLimits = { maxItems: 1000, maxBytes: 10_000_000, newestFirst: true };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

runQueueContract("sqlite", async (l) => {
  const queue = new SqliteQueue(freshPath(), l);
  return { queue, cleanup: () => queue.close() };
});

describe("SqliteQueue durability", () => {
  test("push resolves once committed: a reopened file holds every item, leased ones queued again", async () => {
    const path = freshPath();
    const first = new SqliteQueue(path, limits);
    await Promise.all(["a", "b", "c", "d"].map((b) => first.push(newItem(1, b))));
    await first.push(newItem(2, "e"));
    const taken = await first.take(2); // leased, never acked: the holder "dies"
    expect(taken.length).toBe(2);
    const [acked] = await first.take(1);
    await first.ack(acked!);
    const [failed] = await first.take(1, { isPaused: (p) => p !== 1 });
    await first.release(failed!, true);
    await first.close();

    const second = new SqliteQueue(path, limits);
    try {
      const stats = await second.stats();
      expect(stats.items).toBe(4);
      const all = await second.take(10);
      expect(all.length).toBe(4);
      const bodies = all.map((i) => text(i.body)).sort();
      expect(bodies).not.toContain(text(acked!.body));
      for (const t of taken) expect(bodies).toContain(text(t.body));
      expect(all.find((i) => i.id === failed!.id)?.attempts).toBe(1);
    } finally {
      await second.close();
    }
  });

  test("every push that resolved survives kill -9 of the process", async () => {
    const path = freshPath();
    const child = Bun.spawn(
      [
        process.execPath,
        "-e",
        `
        import { SqliteQueue } from ${JSON.stringify(join(import.meta.dir, "../../src/storage/sqlite.ts"))};
        const q = new SqliteQueue(${JSON.stringify(path)}, { maxItems: 1000, maxBytes: 1e7, newestFirst: true });
        const item = (i) => ({ projectId: 1 + (i % 3), endpoint: "store",
          auth: { publicKey: "k", secretKey: null, client: null, version: 7 }, clientIp: null,
          contentType: "application/json", body: new TextEncoder().encode("event " + i), eventId: null, receivedAt: i });
        for (let i = 0; i < 5; i++) await Promise.all(Array.from({ length: 20 }, (_, j) => q.push(item(i * 20 + j))));
        const [leased] = await q.take(1);
        console.log("committed " + leased.id);
        await new Promise(() => {}); // hang until killed: no close, no checkpoint
      `,
      ],
      { stdout: "pipe", stderr: "inherit" },
    );
    const reader = child.stdout.getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    child.kill("SIGKILL");
    await child.exited;
    expect(out).toStartWith("committed ");
    const q = new SqliteQueue(path, limits);
    try {
      expect((await q.stats()).items).toBe(100);
      const bodies = (await q.take(200)).map((i) => text(i.body));
      expect(new Set(bodies)).toEqual(new Set(Array.from({ length: 100 }, (_, i) => `event ${i}`)));
    } finally {
      await q.close();
    }
  });

  test("a second process cannot open a spool in use (exclusive lock)", async () => {
    const path = freshPath();
    const owner = new SqliteQueue(path, limits);
    await owner.push(newItem(1, "x"));
    const proc = Bun.spawn(
      [
        process.execPath,
        "-e",
        `
        import { SqliteQueue } from ${JSON.stringify(join(import.meta.dir, "../../src/storage/sqlite.ts"))};
        try { const q = new SqliteQueue(${JSON.stringify(path)}, { maxItems: 10, maxBytes: 1000, newestFirst: true });
              await q.push({ projectId: 1, endpoint: "store", auth: { publicKey: "k", secretKey: null, client: null, version: 7 },
                clientIp: null, contentType: "application/json", body: new Uint8Array(1), eventId: null, receivedAt: 0 });
              console.log("opened"); } catch (e) { console.log(e.name); }`,
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    const out = (await new Response(proc.stdout).text()).trim();
    await proc.exited;
    await owner.close();
    expect(out).toBe("StorageUnavailableError");
  });

  test("an unopenable path fails with StorageUnavailableError", () => {
    const file = join(dir, "not-a-dir");
    writeFileSync(file, "x");
    expect(() => new SqliteQueue(join(file, "spool.sqlite"), limits)).toThrow(StorageUnavailableError);
  });

  test("a full disk rejects the push with StorageUnavailableError, writes nothing, and recovers", async () => {
    const path = freshPath();
    const q = new SqliteQueue(path, limits, { maxFileBytes: 256 * 1024 });
    try {
      await q.push(newItem(1, "small"));
      let error: unknown;
      try {
        await q.push(newItem(1, new Uint8Array(1_000_000)));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(StorageUnavailableError);
      expect(q.problem()).toContain("unwritable");
      expect((await q.stats()).items).toBe(1);
      expect(q.approxItems).toBe(1);
      await q.push(newItem(1, "after"));
      expect(q.problem()).toBeNull();
      expect((await q.take(10)).map((i) => text(i.body))).toEqual(["after", "small"]);
    } finally {
      await q.close();
    }
  });

  test("a burst of large bodies is written over several turns, with other work in between", async () => {
    const q = new SqliteQueue(freshPath(), { maxItems: 10, maxBytes: 100_000_000, newestFirst: false });
    try {
      const big = new Uint8Array(5 * 1024 * 1024).fill(0x61);
      const events: string[] = [];
      const pushes = [1, 2, 3].map((i) => q.push(newItem(1, big)).then(() => events.push(`push ${i}`)));
      setImmediate(() => setImmediate(() => events.push("other work")));
      await Promise.all(pushes);
      // Each 5 MiB body is over the turn's 4 MiB: one per turn, the rest of the loop runs between.
      expect(events.indexOf("other work")).toBeGreaterThan(-1);
      expect(events.indexOf("other work")).toBeLessThan(events.indexOf("push 3"));
      expect((await q.stats()).items).toBe(3);
    } finally {
      await q.close();
    }
  });

  test("close writes every push still waiting for its turn", async () => {
    const path = freshPath();
    const q = new SqliteQueue(path, { maxItems: 10, maxBytes: 100_000_000, newestFirst: false });
    const big = new Uint8Array(5 * 1024 * 1024).fill(0x62);
    const pushes = [1, 2, 3].map(() => q.push(newItem(1, big)));
    await q.close();
    await Promise.all(pushes);
    const reopened = new SqliteQueue(path, limits);
    expect(reopened.approxItems).toBe(3);
    await reopened.close();
  });

  test("space of delivered items is reused: the file does not grow across storms", async () => {
    const path = freshPath();
    const q = new SqliteQueue(path, { ...limits, maxItems: 100_000, maxBytes: 100_000_000 });
    const storm = async () => {
      await Promise.all(Array.from({ length: 1500 }, () => q.push(newItem(3, new Uint8Array(2048)))));
      for (;;) {
        const batch = await q.take(500);
        if (batch.length === 0) break;
        await Promise.all(batch.map((i) => q.ack(i)));
      }
    };
    const size = () => statSync(path).size + statSync(`${path}-wal`).size;
    await storm();
    await storm(); // the WAL has reached its working size by now
    const baseline = size();
    for (let i = 0; i < 4; i++) await storm();
    const later = size();
    await q.close();
    expect(later).toBeLessThanOrEqual(baseline * 1.1);
  });
});

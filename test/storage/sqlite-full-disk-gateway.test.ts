/**
 * The full-disk cycle through the gateway process (the binary when CYCLOPS_BINARY names it), with
 * the SQLite spool on a small tmpfs: refusals with Retry-After while full, /healthcheck 503, a
 * kill -9 and a restart on the still-full disk that starts and forwards what the spool holds,
 * /healthcheck 200 again within seconds of space returning with no report sent, and every report
 * answered 200 delivered. Figures are printed, not asserted.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RESERVE_BYTES } from "../../src/storage/sqlite-space.ts";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import { spawnGateway, tempDir, type TestGateway } from "../helpers/gateway.ts";
import { until } from "../helpers/wait.ts";
import { mountTmpfs, type Tmpfs } from "./tmpfs.ts";

const KEY = "e".repeat(32);
const PROJECT = 3;
const AUTH = { "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=full-disk-test/1.0, sentry_key=${KEY}` };

describe("gateway with its SQLite spool on a full disk", () => {
  let fs: Tmpfs | null;
  let sentry: FakeSentry;
  let g: TestGateway | null = null;
  beforeAll(async () => {
    fs = mountTmpfs(RESERVE_BYTES + 24 * 1024 * 1024);
    sentry = await startFakeSentry();
  });
  afterAll(async () => {
    await g?.stop();
    await sentry.stop();
    fs?.unmount();
  });

  function start(upstream: string): Promise<TestGateway> {
    const file = join(tempDir(), "cyclops.json");
    const settings = {
      BIND: "127.0.0.1",
      PORT: 0,
      STORAGE: "sqlite",
      SQLITE_PATH: join(fs!.dir, "spool.sqlite"),
      SENTRY_BASE_URL: upstream,
      PROJECT_KEYS: [[PROJECT, KEY, null]],
      URL_CACHE_EXPIRATION: 0,
      SHUTDOWN_TIMEOUT: 0.2,
      CLIENT_REPORTS: false,
    };
    writeFileSync(file, JSON.stringify(settings));
    return spawnGateway(["serve", "-c", file, "-v"]);
  }

  let sequence = 0;
  /** Sends one 16 KB event; returns its id when answered 200, else null (after checking the refusal). */
  async function send(): Promise<string | null> {
    const id = crypto.randomUUID().replace(/-/g, "");
    const body = JSON.stringify({ event_id: id, message: `full disk ${sequence++}`, extra: { pad: "p".repeat(16 * 1024) } });
    const res = await fetch(`${g!.url}/api/${PROJECT}/store/`, { method: "POST", headers: AUTH, body });
    await res.arrayBuffer();
    if (res.status === 200) return id;
    // Refused: never a 200 for what was not stored, and the client is told when to come back.
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(res.headers.get("x-sentry-rate-limits")).toMatch(/^\d+:error:organization:(storage_unavailable|queue_full)$/);
    return null;
  }

  const health = async () => (await fetch(`${g!.url}/healthcheck`)).status;

  test("refuses while full, restarts on the full disk and forwards, heals with no report sent, loses nothing answered 200", async () => {
    if (!fs) return;
    // Sentry unreachable: reports pile up in the spool.
    g = await start("http://127.0.0.1:1");
    const accepted: string[] = [];
    for (let i = 0; i < 100; i++) {
      const id = await send();
      expect(id).not.toBeNull();
      accepted.push(id!);
    }
    const fillers = [fs.fill("filler-1")];
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      const id = await send();
      if (id === null) refused++;
      else accepted.push(id);
    }
    expect(refused).toBeGreaterThan(0);
    expect(await health()).toBe(503);

    // kill -9, and the disk is still full (whatever freed room is taken again) at the restart.
    g.kill();
    await g.proc!.exited;
    fillers.push(fs.fill("filler-2"));
    const restartedAt = performance.now();
    g = await start(sentry.url);
    const startMs = performance.now() - restartedAt;
    expect(await health()).toBe(503);
    expect(await send()).toBeNull();
    refused++;

    // What the spool held is forwarded although the disk is full.
    await until("the held reports delivered", () => new Set(sentry.received.map((r) => (r.json as { event_id: string }).event_id)).size >= accepted.length, 30_000);
    expect(await health()).toBe(503);

    // Space returns: healthy again on its own, no report sent.
    for (const f of fillers) rmSync(f);
    const freedAt = performance.now();
    await until("/healthcheck 200 after space returns", async () => (await health()) === 200, 10_000);
    const healMs = performance.now() - freedAt;
    const after = await send();
    expect(after).not.toBeNull();
    accepted.push(after!);
    await until("the report sent after healing delivered", () => sentry.received.some((r) => (r.json as { event_id: string }).event_id === after), 10_000);

    const delivered = new Set(sentry.received.map((r) => (r.json as { event_id: string }).event_id));
    const lost = accepted.filter((id) => !delivered.has(id));
    expect(lost).toEqual([]);
    expect(sentry.violations).toEqual([]);
    console.log(
      `[full-disk gateway] ${accepted.length} answered 200, ${refused} refused while full, restart on the full disk listening after ${startMs.toFixed(0)} ms, ` +
        `/healthcheck 200 ${healMs.toFixed(0)} ms after space returned, ${lost.length} lost, ${sentry.received.length} deliveries for ${delivered.size} ids`,
    );
  }, 120_000);
});

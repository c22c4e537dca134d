/**
 * Nothing acknowledged is lost:
 * - SQLite spool: cyclops killed with -9 in the middle of a load, restarted on the same file,
 *   delivers every event it had answered 200 (at least once; the duplicates are counted and
 *   printed for the record).
 * - Memory queue: SIGTERM mid-load stops accepting and drains the queue within SHUTDOWN_TIMEOUT.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { countOf, delivery, fakeSentryAndFixture, runLoad, stopProcess, waitForDelivery, waitUntil } from "./helpers.ts";

const { fake, fixture } = await fakeSentryAndFixture();

describe("SQLite spool survives kill -9", () => {
  test("every event acknowledged before the kill is delivered after the restart", async () => {
    fake.reset();
    // Sentry crawls, so the spool fills up while cyclops forwards a few at a time.
    fake.setBehaviour({ latencyMs: 250 });
    const spool = join(fixture.tempDir(), "spool.sqlite");
    const settings = { STORAGE: "sqlite", SQLITE_PATH: spool, SENTRY_BASE_URL: fake.url, PACING: "adaptive", MAX_CONCURRENCY: 8, URL_CACHE_EXPIRATION: 0 } as const;
    const first = await fixture.cyclops(settings);

    let killed = false;
    let acks = 0;
    const load = runLoad({
      total: 2000,
      concurrency: 32,
      target: () => first.url,
      onResult: (r) => {
        if (r.status === 200 && ++acks >= 1000 && !killed) {
          killed = true;
          first.kill();
        }
      },
    });
    const result = await load;
    await first.proc!.exited;

    expect(killed).toBe(true);
    expect(first.proc!.signalCode).toBe("SIGKILL");
    // The kill really interrupted the load: later requests found nobody listening. Before it,
    // every request was accepted.
    expect(result.statuses.error ?? 0).toBeGreaterThan(0);
    expect(Object.keys(result.statuses).sort()).toEqual(["200", "error"]);
    expect(result.acked.length).toBeGreaterThanOrEqual(1000);
    const beforeRestart = delivery(result.acked, fake);
    expect(beforeRestart.missing.length).toBeGreaterThan(0); // the spool held undelivered events

    fake.setBehaviour({ latencyMs: 0 });
    const second = await fixture.cyclops(settings);
    const d = await waitForDelivery(result.acked, fake, 60_000);
    console.log(
      `[durability] sqlite kill -9: ${result.sent} sent, ${result.acked.length} acknowledged, ${beforeRestart.delivered} delivered before the kill, ` +
        `${d.delivered} delivered in all, ${d.missing.length} missing, ${d.duplicates} duplicates, ${d.unacknowledged} delivered without an acknowledgement (answer lost to the kill)`,
    );
    expect(d.missing).toEqual([]);
    expect(fake.violations).toEqual([]);

    // The spool drains completely and the restarted instance stops cleanly.
    await waitUntil(
      async () => (await countOf(second)).count === 0,
      10_000,
      () => "the restarted spool never emptied",
    );
    expect(await stopProcess(second.proc!, 10_000)).toBe(0);
  }, 120_000);
});

describe("memory queue drains on SIGTERM", () => {
  test("everything acknowledged before the SIGTERM reaches Sentry", async () => {
    fake.reset();
    // ~4 × 1/20 ms = 200 events/s upstream, slower than the load: a backlog is left at SIGTERM.
    fake.setBehaviour({ latencyMs: 20 });
    const g = await fixture.cyclops({ STORAGE: "memory", SENTRY_BASE_URL: fake.url, PACING: "adaptive", MAX_CONCURRENCY: 4, SHUTDOWN_TIMEOUT: 20, URL_CACHE_EXPIRATION: 0 });

    let acks = 0;
    let deliveredAtSigterm = -1;
    const result = await runLoad({
      total: 600,
      concurrency: 16,
      target: () => g.url,
      onResult: (r) => {
        if (r.status === 200 && ++acks === 300) {
          deliveredAtSigterm = fake.received.length;
          g.proc!.kill("SIGTERM");
        }
      },
    });
    const exitCode = await Promise.race([g.proc!.exited, Bun.sleep(30_000).then(() => "still running")]);
    expect(exitCode).toBe(0);

    const d = delivery(result.acked, fake);
    console.log(
      `[durability] memory SIGTERM: ${result.sent} sent, ${result.acked.length} acknowledged, ${deliveredAtSigterm} delivered at SIGTERM, ` +
        `${d.delivered} delivered by exit, ${d.missing.length} missing, ${d.duplicates} duplicates`,
    );
    expect(result.acked.length).toBeGreaterThanOrEqual(300);
    expect(deliveredAtSigterm).toBeLessThan(result.acked.length); // there was a backlog to drain
    expect(d.missing).toEqual([]);
    expect(d.duplicates).toBe(0);
    expect(fake.violations).toEqual([]);
    expect(g.stderr()).not.toContain("they are lost");
  }, 60_000);

  test("SHUTDOWN_TIMEOUT bounds the drain: what is left is reported lost, the rest delivered", async () => {
    fake.reset();
    // ~2 × 1/100 ms = 20 events/s upstream: 400 queued events would take 20 s to drain.
    fake.setBehaviour({ latencyMs: 100 });
    const g = await fixture.cyclops({ STORAGE: "memory", SENTRY_BASE_URL: fake.url, PACING: "adaptive", MAX_CONCURRENCY: 2, SHUTDOWN_TIMEOUT: 1, URL_CACHE_EXPIRATION: 0 });
    const result = await runLoad({ total: 400, concurrency: 16, target: () => g.url });
    expect(result.statuses).toEqual({ "200": 400 });
    g.proc!.kill("SIGTERM");
    // Bounded well above SHUTDOWN_TIMEOUT (1 s for requests + 1 s for the drain), far below 20 s.
    const exitCode = await Promise.race([g.proc!.exited, Bun.sleep(10_000).then(() => "still running")]);
    expect(exitCode).toBe(0);

    const lost = g
      .stderr()
      .split("\n")
      .filter((line) => line.includes("they are lost"))
      .map((line) => (JSON.parse(line) as { left: number }).left);
    const d = delivery(result.acked, fake);
    console.log(`[durability] memory SIGTERM, SHUTDOWN_TIMEOUT 1 s: ${result.acked.length} acknowledged, ${d.delivered} delivered, ${lost[0]} reported lost`);
    expect(lost).toHaveLength(1);
    expect(lost[0]!).toBeGreaterThan(0);
    expect(d.delivered).toBeGreaterThan(0);
    // Nothing vanishes silently: each acknowledged event was delivered or is counted as lost.
    expect(d.delivered + lost[0]!).toBeGreaterThanOrEqual(result.acked.length);
    expect(fake.violations).toEqual([]);
  }, 60_000);
});

/**
 * The learned limits survive a restart: in a JSON file (memory storage, SPIKE_STATE_PATH) or a
 * table of the SQLite spool; a broken file costs the learned limits, never the start.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaults } from "../../src/config/schema.ts";
import { silentLogger } from "../../src/log.ts";
import { SpikeProtection } from "../../src/spike/service.ts";
import { FileStateStore, SqliteStateStore, stateStoreFor } from "../../src/spike/state-store.ts";
import { MINUTE, MONDAY } from "./replay.ts";

const dir = mkdtempSync(join(tmpdir(), "cyclops-spike-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function learnedService(config: ReturnType<typeof defaults>, now: { t: number }) {
  const spike = new SpikeProtection(config, { log: silentLogger(), now: () => now.t });
  for (let i = 0; i < 300 * 120; i++) spike.limiter.check(1, "error", null, MONDAY + Math.floor(i * 200));
  now.t = MONDAY + 120 * MINUTE;
  return spike;
}

describe.each([
  ["a state file (memory storage)", { SPIKE_STATE_PATH: join(dir, "sub", "spike.json") }],
  ["the SQLite spool", { STORAGE: "sqlite" as const, SQLITE_PATH: join(dir, "spool.sqlite") }],
])("%s", (_name, overrides) => {
  test("keeps the learned limit across a stop and a start", () => {
    const config = { ...defaults(), SPIKE_PROTECTION: "enforce" as const, ...overrides };
    const now = { t: MONDAY };
    const first = learnedService(config, now);
    const limit = first.limiter.limitOf(1, "error")!;
    expect(limit).toBeGreaterThan(600);
    first.stop();
    const second = new SpikeProtection(config, { log: silentLogger(), now: () => now.t + MINUTE });
    second.start();
    expect(second.limiter.limitOf(1, "error")).toBeCloseTo(limit, 5);
    second.stop();
  });
});

test("the store follows the configuration: sqlite storage keeps it in the spool, else SPIKE_STATE_PATH, else nowhere", () => {
  const base = defaults();
  expect(stateStoreFor({ ...base, STORAGE: "memory" })).toBeNull();
  expect(stateStoreFor({ ...base, STORAGE: "redis", SPIKE_STATE_PATH: join(dir, "r.json") })).toBeInstanceOf(FileStateStore);
  const sqlite = stateStoreFor({ ...base, STORAGE: "sqlite", SQLITE_PATH: join(dir, "s.sqlite") });
  expect(sqlite).toBeInstanceOf(SqliteStateStore);
  sqlite!.close();
});

test("a malformed state file is reported, and the gateway starts with limits relearned", () => {
  const path = join(dir, "broken.json");
  writeFileSync(path, "{not json");
  const lines: string[] = [];
  const log = silentLogger();
  log.error = ((_o: unknown, msg: string) => void lines.push(msg)) as typeof log.error;
  const spike = new SpikeProtection({ ...defaults(), SPIKE_PROTECTION: "enforce", SPIKE_STATE_PATH: path }, { log });
  spike.start();
  expect(lines.join("\n")).toContain("saved state not read");
  expect(spike.limiter.limitOf(1, "error")).toBeNull();
  spike.stop(); // and overwrites it with a good one
  expect(new FileStateStore(path).load()).toMatchObject({ version: 1 });
});

/**
 * Shared bits of the durability end-to-end tests (durability, farm, redis-restart): cyclops run
 * as a real process (the compiled binary under CYCLOPS_BINARY, else `bun src/main.ts`), a load
 * generator that records which event ids cyclops acknowledged with a 200, bounded waits, the
 * delivery arithmetic (missing, duplicates) against the fake Sentry, and a private redis-server.
 */
import { afterAll, expect } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { Redis } from "ioredis";
import type { Config } from "../../src/config/schema.ts";
import { projectKeys, projectsKey } from "../../src/redis/keys.ts";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import { spawnGateway, tempDir, type TestGateway } from "../helpers/gateway.ts";
import { SERVICE_HOST, SERVICE_PORTS } from "../helpers/services.ts";
import type { CountDocument } from "../../src/stats/count-document.ts";

export const PROJECT = 1;
export const KEY = "e2ed0e2ed0e2ed0e2ed0e2ed0e2ed0e2";
export const PROJECT_KEYS: Config["PROJECT_KEYS"] = [[PROJECT, KEY, null]];
/** The fake Sentry knows the key, as the real one would. */
export const FAKE_SENTRY_KEYS = { [PROJECT]: [KEY] };
/** A second project, for the tests that need two (its key is known to the fake Sentry too). */
export const PROJECT_2 = 2;
export const KEY_2 = "e2ed2e2ed2e2ed2e2ed2e2ed2e2ed2e2";
export const TWO_PROJECT_KEYS: Config["PROJECT_KEYS"] = [...PROJECT_KEYS, [PROJECT_2, KEY_2, null]];
export const TWO_PROJECT_SENTRY_KEYS = { ...FAKE_SENTRY_KEYS, [PROJECT_2]: [KEY_2] };
const auth = (key: string) => `Sentry sentry_version=7, sentry_client=t/1, sentry_key=${key}`;

export const newEventId = (): string => crypto.randomUUID().replaceAll("-", "");

// ---------------------------------------------------------------------------------------------
// cyclops processes

/**
 * Starts and later removes cyclops processes and temp dirs. `close()` (afterAll) SIGTERMs what is
 * still running, SIGKILLs what does not exit within 5 s, and deletes the dirs.
 */
export class Fixture {
  private readonly gateways: TestGateway[] = [];
  private readonly dirs: string[] = [];

  tempDir(): string {
    const dir = tempDir("cyclops-e2e-");
    this.dirs.push(dir);
    return dir;
  }

  /** cyclops serve as a process with these settings (on a free port, client reports off). */
  async cyclops(settings: Partial<Config>): Promise<TestGateway> {
    const file = join(this.tempDir(), "cyclops.json");
    const config: Partial<Config> = { BIND: "127.0.0.1", PORT: 0, CLIENT_REPORTS: false, SHUTDOWN_TIMEOUT: 0.2, PROJECT_KEYS, ...settings };
    writeFileSync(file, JSON.stringify(config, null, 2));
    const g = await spawnGateway(["serve", "-c", file, "-v"]);
    this.gateways.push(g);
    return g;
  }

  /** Stops every cyclops started so far (SIGTERM, SIGKILL after 5 s), so none outlives its test. */
  async stopAll(): Promise<void> {
    await Promise.all(this.gateways.map((g) => stopProcess(g.proc!, 5000)));
  }

  async close(): Promise<void> {
    await this.stopAll();
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }
}

/** A fake Sentry that knows the e2e key and a Fixture for one test file, both closed after its tests. */
export async function fakeSentryAndFixture(): Promise<{ fake: FakeSentry; fixture: Fixture }> {
  const fake = await startFakeSentry({ keys: FAKE_SENTRY_KEYS });
  const fixture = new Fixture();
  afterAll(async () => {
    await fixture.close();
    await fake.stop();
  });
  return { fake, fixture };
}

type Proc = ReturnType<typeof Bun.spawn>;

export const isRunning = (proc: Proc): boolean => proc.exitCode === null && proc.signalCode === null;

/** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed by a signal). */
export async function stopProcess(proc: Proc, graceMs: number): Promise<number | null> {
  if (isRunning(proc)) {
    proc.kill("SIGTERM");
    const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
    if (!exited) proc.kill("SIGKILL");
  }
  await proc.exited;
  return proc.exitCode;
}

/**
 * Throws, quoting the end of its stderr, when one of these cyclops processes has exited: a crash
 * should fail with its cause, not as a timeout or a pile of connection errors.
 */
export function expectAlive(...gateways: TestGateway[]): void {
  const dead = gateways.filter((g) => !isRunning(g.proc!));
  if (dead.length === 0) return;
  const report = dead.map((g) => `cyclops on port ${g.port} exited (code ${g.proc!.exitCode}, signal ${g.proc!.signalCode}); stderr ends:\n${g.stderr().slice(-2000)}`);
  throw new Error(report.join("\n---\n"));
}

// ---------------------------------------------------------------------------------------------
// requests

export interface SendResult {
  status: number | "error";
  retryAfter: string | null;
  /** X-Sentry-Rate-Limits. */
  rateLimits: string | null;
  /** X-Cyclops-Status: PROCESSED or IGNORED. */
  cyclopsStatus: string | null;
  /** The id of a 200 answer. */
  id: string | null;
  /** Why there was no answer. */
  error?: string;
}

export async function sendEvent(baseUrl: string, eventId: string, message: string, project: [id: number, key: string] = [PROJECT, KEY]): Promise<SendResult> {
  try {
    const res = await fetch(`${baseUrl}/api/${project[0]}/store/`, {
      method: "POST",
      headers: { "X-Sentry-Auth": auth(project[1]), "Content-Type": "application/json" },
      body: JSON.stringify({ event_id: eventId, message, level: "error", platform: "javascript" }),
    });
    const text = await res.text();
    let id: string | null = null;
    if (res.status === 200) id = (JSON.parse(text) as { id?: string }).id ?? null;
    return {
      status: res.status,
      retryAfter: res.headers.get("retry-after"),
      rateLimits: res.headers.get("x-sentry-rate-limits"),
      cyclopsStatus: res.headers.get("x-cyclops-status"),
      id,
    };
  } catch (e) {
    return { status: "error", retryAfter: null, rateLimits: null, cyclopsStatus: null, id: null, error: String(e) };
  }
}

/**
 * cyclops's answer to overload and storage faults: 429 with Retry-After in seconds and an
 * X-Sentry-Rate-Limits of Sentry's form (docs/PROTOCOL.md §6) naming scope and reason code.
 */
export function isRefusal(r: Pick<SendResult, "status" | "retryAfter" | "rateLimits">): boolean {
  return r.status === 429 && /^\d+$/.test(r.retryAfter ?? "") && /^\d+:[a-z;]*:(organization|project|key):[a-z_]+$/.test(r.rateLimits ?? "");
}

export interface LoadOptions {
  /** How many events to send (Infinity: until `shouldStop`). */
  total: number;
  concurrency: number;
  /** Base URL for the i-th request; null skips nothing and ends this worker (no target left). */
  target: (i: number) => string | null;
  /** Message of the i-th event; default distinct per event (so the flood cut never applies). */
  message?: (i: number) => string;
  /** Project and key of the i-th event; default PROJECT and KEY. */
  project?: (i: number) => [id: number, key: string];
  shouldStop?: () => boolean;
  /** Pause after a non-200 answer, so an outage is not a busy loop. */
  backoffMs?: number;
  onResult?: (r: SendResult, i: number) => void;
}

export interface LoadResult {
  /** Event ids cyclops answered 200 with that id: it promised to deliver them. */
  acked: string[];
  /** How many answers of each status ("error" = no answer: connection refused or reset). */
  statuses: Record<string, number>;
  /** How many 429s carried both Retry-After and X-Sentry-Rate-Limits. */
  refusedWithHeaders: number;
  sent: number;
  /** The first few reasons a request got no answer (for the failure message). */
  errors: string[];
}

/** Sends distinct events with `concurrency` requests in flight and records every acknowledgement. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { acked: [], statuses: {}, refusedWithHeaders: 0, sent: 0, errors: [] };
  let next = 0;
  const worker = async () => {
    while (next < opts.total && !opts.shouldStop?.()) {
      const i = next++;
      const url = opts.target(i);
      if (url === null) return;
      const eventId = newEventId();
      const r = await sendEvent(url, eventId, opts.message?.(i) ?? `durability event ${i} ${eventId}`, opts.project?.(i));
      result.sent++;
      const key = String(r.status);
      result.statuses[key] = (result.statuses[key] ?? 0) + 1;
      if (r.status === 200) {
        if (r.id !== eventId) throw new Error(`cyclops answered 200 with id ${r.id} for event ${eventId}`);
        result.acked.push(eventId);
      } else {
        if (r.error !== undefined && result.errors.length < 5) result.errors.push(`request ${i} to ${url}: ${r.error}`);
        if (isRefusal(r)) result.refusedWithHeaders++;
        if (opts.backoffMs) await Bun.sleep(opts.backoffMs);
      }
      opts.onResult?.(r, i);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return result;
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** What /count answers (src/stats/count-document.ts). */
export type CountDoc = CountDocument;
export const countOf = (g: TestGateway): Promise<CountDoc> => getJson<CountDoc>(`${g.url}/count`);

// ---------------------------------------------------------------------------------------------
// waiting and delivery arithmetic

/** Polls `cond` every 50 ms; throws with `describe()` when it still fails after `timeoutMs`. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await Bun.sleep(50);
  }
}

/** Event ids the fake Sentry received, one entry per delivery (duplicates kept). */
export function receivedIds(fake: FakeSentry): string[] {
  return fake.received.map((r) => String(r.endpoint === "store" ? (r.json as { event_id?: string }).event_id : r.envelope?.headers.event_id));
}

export interface Delivery {
  acked: number;
  /** Acknowledged ids that reached Sentry at least once. */
  delivered: number;
  missing: string[];
  /** Deliveries beyond the first of an id (at-least-once redelivery). */
  duplicates: number;
  /** Ids Sentry got that no client saw acknowledged (committed, but the answer was lost to the kill). */
  unacknowledged: number;
}

export function delivery(acked: readonly string[], fake: FakeSentry): Delivery {
  const seen = new Map<string, number>();
  for (const id of receivedIds(fake)) seen.set(id, (seen.get(id) ?? 0) + 1);
  const ackedSet = new Set(acked);
  let duplicates = 0;
  let unacknowledged = 0;
  for (const [id, n] of seen) {
    duplicates += n - 1;
    if (!ackedSet.has(id)) unacknowledged++;
  }
  const missing = acked.filter((id) => !seen.has(id));
  return { acked: acked.length, delivered: acked.length - missing.length, missing, duplicates, unacknowledged };
}

/** Waits (bounded) until every acknowledged id reached the fake Sentry. */
export async function waitForDelivery(acked: readonly string[], fake: FakeSentry, timeoutMs: number): Promise<Delivery> {
  await waitUntil(
    () => delivery(acked, fake).missing.length === 0,
    timeoutMs,
    () => {
      const d = delivery(acked, fake);
      return `${d.missing.length} of ${d.acked} acknowledged events never reached Sentry (e.g. ${d.missing.slice(0, 3).join(", ")}); last attempts ${JSON.stringify(fake.attempts.slice(-3))}`;
    },
  );
  return delivery(acked, fake);
}

// ---------------------------------------------------------------------------------------------
// Redis

export interface RedisAt {
  host: string;
  port: number;
}
export const SHARED_REDIS: RedisAt = { host: SERVICE_HOST, port: SERVICE_PORTS.redis };

async function withRedis<T>(at: RedisAt, op: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ host: at.host, port: at.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await client.connect();
    return await op(client);
  } finally {
    client.disconnect();
  }
}

/** Items (queued + leased) the farm's Redis queue holds under `prefix`: the sum over its projects. */
export const redisQueueItems = (prefix: string, at: RedisAt = SHARED_REDIS): Promise<number> =>
  withRedis(at, async (c) => {
    let items = 0;
    for (const p of await c.smembers(projectsKey(prefix))) items += Number((await c.hget(projectKeys(prefix, Number(p)).stats, "items")) ?? 0);
    return items;
  });

/** The queue's leases: "<project>:<item id>" → holder. */
export const redisLeases = (prefix: string, at: RedisAt = SHARED_REDIS): Promise<Record<string, string>> =>
  withRedis(at, async (c) => {
    const leases: Record<string, string> = {};
    for (const p of await c.smembers(projectsKey(prefix))) {
      for (const [id, holder] of Object.entries(await c.hgetall(projectKeys(prefix, Number(p)).leases))) leases[`${p}:${id}`] = holder;
    }
    return leases;
  });

/** A port nothing listens on right now. */
export function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (d) => done(d.toString().startsWith("+PONG")));
    socket.once("error", () => done(false));
  });
}

export interface RedisServer {
  port: number;
  proc: Proc;
  /** SIGTERM (Redis writes its AOF and exits); resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** A private redis-server with AOF fsynced on every write, in `dir`; answers PING when resolved. */
export async function startRedisServer(port: number, dir: string): Promise<RedisServer> {
  const proc = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--appendonly", "yes", "--appendfsync", "always", "--dir", dir, "--save", ""], {
    stdout: "ignore",
    stderr: "ignore",
  });
  await waitUntil(
    async () => isRunning(proc) && (await ping(port)),
    10_000,
    () => `redis-server on ${port} did not answer PING (exit ${proc.exitCode})`,
  );
  return { port, proc, stop: () => stopProcess(proc, 10_000) };
}

/** The sum of one /count field over a farm's instances. */
export const farmSum = async (nodes: TestGateway[], field: "processed" | "ignored" | "delivered"): Promise<number> =>
  (await Promise.all(nodes.map(countOf))).reduce((n, c) => n + c[field], 0);

/**
 * One error sent 60 times round the three instances of a farm whose flood counters are shared
 * (MAX_CACHE_USES 5): every report is answered 200, five are processed and delivered farm-wide,
 * the other 55 ignored.
 */
export async function expectFarmFloodCut(nodes: TestGateway[], fake: FakeSentry, message: string): Promise<void> {
  const statuses: Record<string, number> = {};
  const result = await runLoad({
    total: 60,
    concurrency: 12,
    target: (i) => nodes[i % 3]!.url,
    message: () => message,
    onResult: (r) => {
      const key = r.cyclopsStatus ?? String(r.status);
      statuses[key] = (statuses[key] ?? 0) + 1;
    },
  });
  expectAlive(...nodes);
  // A dropped flood is still answered 200.
  expect({ statuses: result.statuses, errors: result.errors }).toEqual({ statuses: { "200": 60 }, errors: [] });
  expect(statuses).toEqual({ PROCESSED: 5, IGNORED: 55 });
  expect(await farmSum(nodes, "processed")).toBe(5);
  expect(await farmSum(nodes, "ignored")).toBe(55);
  await fake.waitFor(5, 10_000);
  await waitUntil(
    async () => (await farmSum(nodes, "delivered")) === 5,
    10_000,
    () => "the five were not all delivered",
  );
  expect(fake.received.length).toBe(5);
  expect(fake.violations).toEqual([]);
  expectAlive(...nodes);
}

/**
 * Where the learned baselines wait across a restart, kept with the storage:
 *
 * - STORAGE sqlite: a row of the spool's meta table, through the queue's own connection (the
 *   spool holds its file exclusively).
 * - A farm's Redis (STORAGE or CACHE_IMPLEMENTATION_CLASS redis): one key per project in that
 *   project's slot, so every instance of a farm restarts with the farm's one baseline per project.
 * - Otherwise a JSON file: SPIKE_STATE_PATH, or, when unset, `spike-state.json` in the state
 *   directory systemd gives the unit (StateDirectory= sets $STATE_DIRECTORY); with neither,
 *   limits are relearned at each start.
 *
 * Each saves what SpikeLimiter.stateChunks yields, one chunk per event-loop turn, so a save stalls
 * the gateway for one chunk at most (docs/SPIKE-PROTECTION.md, "Cost of a save"). A missing,
 * unreadable or malformed state is reported and ignored: it can cost the learned limits, never
 * the start.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { open, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Redis } from "ioredis";
import { spikeStateKey } from "../redis/keys.ts";
import type { Queue } from "../storage/queue.ts";
import type { SpikeLaneState, SpikeState } from "./limiter.ts";

export interface SpikeStateStore {
  /** What was saved last, parsed (a SpikeState); null when nothing was. Rejects when it cannot be read or parsed. */
  load(): Promise<unknown>;
  /** Saves the lanes `chunks` yields (whole projects per chunk), one chunk per event-loop turn. */
  save(savedAt: number, chunks: Iterable<SpikeLaneState[]>): Promise<void>;
  close(): void;
  /** For logs: where the state lives. */
  readonly where: string;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const header = (savedAt: number) => `{"version":1,"savedAt":${savedAt},"lanes":[`;
const FOOTER = "]}";

/** The JSON of each chunk's lanes, comma-joined across chunks, yielding a turn after each. */
async function* laneTexts(chunks: Iterable<SpikeLaneState[]>): AsyncGenerator<string> {
  let first = true;
  for (const chunk of chunks) {
    if (chunk.length === 0) continue;
    const text = chunk.map((lane) => JSON.stringify(lane)).join(",");
    yield first ? text : `,${text}`;
    first = false;
    await nextTurn();
  }
}

export class FileStateStore implements SpikeStateStore {
  constructor(private readonly path: string) {}

  get where(): string {
    return `file ${this.path}`;
  }

  async load(): Promise<unknown> {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
    return JSON.parse(text);
  }

  /** Written beside the file and renamed over it, so a crash mid-write leaves the last good state. */
  async save(savedAt: number, chunks: Iterable<SpikeLaneState[]>): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${process.pid}.tmp`;
    const file = await open(temporary, "w");
    try {
      await file.write(header(savedAt));
      for await (const text of laneTexts(chunks)) await file.write(text);
      await file.write(FOOTER);
    } finally {
      await file.close();
    }
    await rename(temporary, this.path);
  }

  close(): void {}
}

/**
 * Rows of the spool's `meta` table (Queue.readMeta/writeMeta), on the spool's own connection: one
 * row per chunk of lanes (`spike_state:<i>`, a JSON array), written a turn apart, then the row
 * `spike_state` naming how many there are. A crash mid-save leaves some rows new and some old,
 * each of whole projects: every project is restored from one save or the other.
 */
export class SpoolStateStore implements SpikeStateStore {
  constructor(private readonly spool: Required<Pick<Queue, "readMeta" | "writeMeta">>) {}

  get where(): string {
    return "the SQLite spool (table meta)";
  }

  async load(): Promise<unknown> {
    const text = this.spool.readMeta(META_NAME);
    if (text === null) return null;
    const head = JSON.parse(text) as { version?: number; savedAt?: number; rows?: unknown; lanes?: unknown };
    if (head.lanes !== undefined || !Number.isSafeInteger(head.rows)) return head; // one document, as saved before rows
    const lanes: unknown[] = [];
    for (let i = 0; i < (head.rows as number); i++) {
      const row = this.spool.readMeta(`${META_NAME}:${i}`);
      const parsed: unknown = row === null ? null : JSON.parse(row);
      if (Array.isArray(parsed)) for (const lane of parsed) lanes.push(lane);
    }
    return { version: head.version, savedAt: head.savedAt, lanes };
  }

  async save(savedAt: number, chunks: Iterable<SpikeLaneState[]>): Promise<void> {
    let rows = 0;
    for (const chunk of chunks) {
      if (chunk.length === 0) continue;
      this.spool.writeMeta(`${META_NAME}:${rows++}`, JSON.stringify(chunk));
      await nextTurn();
    }
    this.spool.writeMeta(META_NAME, JSON.stringify({ version: 1, savedAt, rows }));
  }

  close(): void {}
}

const META_NAME = "spike_state";

type StateRedis = Pick<Redis, "get" | "set" | "sadd" | "smembers" | "srem"> & {
  readonly status: string;
  once(event: "ready" | "error", listener: (e?: Error) => void): unknown;
};

/** A project's state unused this long expires from Redis (a project gone quiet for a month relearns). */
const REDIS_STATE_TTL_S = 30 * 86_400;
/** Projects read per turn at load. */
const LOAD_BATCH = 500;
/** How long a start waits for the farm's Redis before relearning instead. */
const READY_TIMEOUT_MS = 3_000;
const FIRST_CONNECT = new Set(["wait", "connecting", "connect"]);

/**
 * One key per project (`{prefix:project}:spike:state`, a JSON SpikeState of that project's lanes)
 * and a set naming the projects (`{prefix}:spike:projects`): single-key commands only, so it works
 * on a Redis Cluster, each project's state in its own slot. Every instance of a farm writes the
 * same farm-learned baselines (farm.ts); the last write of a minute wins.
 */
export class RedisStateStore implements SpikeStateStore {
  constructor(
    private readonly redis: StateRedis,
    private readonly prefix: string,
  ) {}

  get where(): string {
    return `Redis (one key per project, prefix ${this.prefix})`;
  }

  async load(): Promise<unknown> {
    await this.ready();
    const projects = (await this.redis.smembers(spikeStateKey(this.prefix))).map(Number).filter(Number.isSafeInteger);
    const state: SpikeState = { version: 1, savedAt: 0, lanes: [] };
    const gone: number[] = [];
    for (let i = 0; i < projects.length; i += LOAD_BATCH) {
      const batch = projects.slice(i, i + LOAD_BATCH);
      const texts = await Promise.all(batch.map((p) => this.redis.get(spikeStateKey(this.prefix, p))));
      texts.forEach((text, j) => {
        if (text === null) return void gone.push(batch[j]!);
        const doc = parseProject(text);
        if (doc === null) return;
        state.savedAt = Math.max(state.savedAt, doc.savedAt);
        for (const lane of doc.lanes) state.lanes.push(lane);
      });
    }
    if (gone.length > 0) await this.redis.srem(spikeStateKey(this.prefix), ...gone.map(String));
    return state.lanes.length === 0 && gone.length === projects.length ? null : state;
  }

  async save(savedAt: number, chunks: Iterable<SpikeLaneState[]>): Promise<void> {
    await this.ready();
    for (const chunk of chunks) {
      const byProject = new Map<number, SpikeLaneState[]>();
      for (const lane of chunk) {
        const lanes = byProject.get(lane.project);
        if (lanes) lanes.push(lane);
        else byProject.set(lane.project, [lane]);
      }
      if (byProject.size === 0) continue;
      const writes: Array<Promise<unknown>> = [this.redis.sadd(spikeStateKey(this.prefix), ...[...byProject.keys()].map(String))];
      for (const [project, lanes] of byProject) {
        writes.push(this.redis.set(spikeStateKey(this.prefix, project), JSON.stringify({ version: 1, savedAt, lanes }), "EX", REDIS_STATE_TTL_S));
      }
      await Promise.all(writes);
    }
  }

  /**
   * A start may come before the farm's first connection is up: wait a little for it. A Redis that
   * was lost (reconnecting) fails at once, as its commands would.
   */
  private async ready(): Promise<void> {
    const status = this.redis.status;
    if (status === "ready") return;
    if (!FIRST_CONNECT.has(status)) throw new Error(`Redis ${status}`);
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error: Error | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => settle(new Error(`Redis not ready within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      this.redis.once("ready", () => settle(null));
      this.redis.once("error", (e) => settle(e ?? new Error("Redis error")));
    });
  }

  close(): void {}
}

/** A project's saved document, or null when malformed (then skipped, not trusted). */
function parseProject(text: string): SpikeState | null {
  try {
    const doc = JSON.parse(text) as SpikeState;
    return typeof doc === "object" && doc !== null && doc.version === 1 && Array.isArray(doc.lanes) ? doc : null;
  } catch {
    return null;
  }
}

/** The file a state is kept in without SPIKE_STATE_PATH: in the unit's state directory (systemd's StateDirectory=), else none. */
export function defaultStatePath(env: Record<string, string | undefined>): string | null {
  const dir = env.STATE_DIRECTORY?.split(":")[0];
  return dir ? join(dir, "spike-state.json") : null;
}

/**
 * The store the configuration asks for: the spool when the queue can keep it; else the farm's
 * Redis; else SPIKE_STATE_PATH's file, or the state directory's; else none.
 */
export function stateStoreFor(
  config: { SPIKE_STATE_PATH: string | null; REDIS_KEY_PREFIX: string },
  queue: Queue,
  redis: StateRedis | null = null,
  env: Record<string, string | undefined> = process.env,
): SpikeStateStore | null {
  const { readMeta, writeMeta } = queue;
  if (readMeta && writeMeta) return new SpoolStateStore({ readMeta: readMeta.bind(queue), writeMeta: writeMeta.bind(queue) });
  if (redis !== null) return new RedisStateStore(redis, config.REDIS_KEY_PREFIX);
  const path = config.SPIKE_STATE_PATH ?? defaultStatePath(env);
  return path === null ? null : new FileStateStore(path);
}

/**
 * Where the learned baselines wait across a restart: a row of the SQLite spool's meta table
 * (STORAGE sqlite, through the queue's own connection: the spool holds its file exclusively), or a
 * small JSON file (SPIKE_STATE_PATH, for memory or redis storage). Either holds one document,
 * SpikeLimiter.serialize's; a missing, unreadable or malformed one is reported and ignored, so a bad
 * state file can cost the learned limits, never the start.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Queue } from "../storage/queue.ts";
import type { SpikeState } from "./limiter.ts";

export interface SpikeStateStore {
  /** What was saved last, parsed; null when nothing was. Throws when it cannot be read or parsed. */
  load(): unknown;
  save(state: SpikeState): void;
  close(): void;
  /** For logs: where the state lives. */
  readonly where: string;
}

export class FileStateStore implements SpikeStateStore {
  constructor(private readonly path: string) {}

  get where(): string {
    return `file ${this.path}`;
  }

  load(): unknown {
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
  save(state: SpikeState): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(state));
    renameSync(temporary, this.path);
  }

  close(): void {}
}

/** A row of the spool's `meta` table (Queue.readMeta/writeMeta), on the spool's own connection. */
export class SpoolStateStore implements SpikeStateStore {
  constructor(private readonly spool: Required<Pick<Queue, "readMeta" | "writeMeta">> & { path?: string }) {}

  get where(): string {
    return "the SQLite spool (table meta)";
  }

  load(): unknown {
    const text = this.spool.readMeta(META_NAME);
    return text === null ? null : JSON.parse(text);
  }

  save(state: SpikeState): void {
    this.spool.writeMeta(META_NAME, JSON.stringify(state));
  }

  close(): void {}
}

const META_NAME = "spike_state";

/** The store the configuration asks for: the spool when the queue can keep it, else SPIKE_STATE_PATH's file, else none. */
export function stateStoreFor(config: { SPIKE_STATE_PATH: string | null }, queue: Queue): SpikeStateStore | null {
  const { readMeta, writeMeta } = queue;
  if (readMeta && writeMeta) return new SpoolStateStore({ readMeta: readMeta.bind(queue), writeMeta: writeMeta.bind(queue) });
  if (config.SPIKE_STATE_PATH !== null) return new FileStateStore(config.SPIKE_STATE_PATH);
  return null;
}

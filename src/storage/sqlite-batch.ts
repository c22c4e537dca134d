/**
 * What the SQLite spool (sqlite.ts) collects during one event-loop turn and writes in one
 * transaction: its group commit.
 */
import type { Database } from "bun:sqlite";
import type { NewItem } from "./item.ts";

/** Bytes of report bodies one event-loop turn writes (see pastTurnBytes). */
const TURN_BYTES = 4 * 1024 * 1024;

export interface PendingPush {
  item: NewItem;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** A write of another table in the spool's file (commitWith); `frees`: a delete, written on a full disk too. */
export interface PendingWrite {
  write: (db: Database) => void;
  frees: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Ops collected during one event-loop turn, written in one transaction (up to TURN_BYTES of bodies). */
export interface Batch {
  pushes: PendingPush[];
  writes: PendingWrite[];
  deletes: number[];
  /** id → new attempt count; also read by `take` so a release is visible before its commit. */
  attempts: Map<number, number>;
  done: Array<{ resolve: () => void; reject: (e: Error) => void }>;
}

export const emptyBatch = (): Batch => ({ pushes: [], writes: [], deletes: [], attempts: new Map(), done: [] });

/**
 * Writing a body into SQLite costs ~6 ms per MiB on the event loop: a turn writes pushes up to
 * TURN_BYTES (at least one); the rest, taken out of `batch` and returned, wait for the next
 * turn, so a burst of large envelopes is written one or two per turn with other requests
 * answered in between.
 */
export function pastTurnBytes(batch: Batch): PendingPush[] {
  let bytes = 0;
  for (let i = 0; i < batch.pushes.length; i++) {
    bytes += batch.pushes[i]!.item.body.byteLength;
    if (bytes > TURN_BYTES && i > 0) return batch.pushes.splice(i);
  }
  return [];
}

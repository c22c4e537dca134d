/**
 * Where reports held while project keys load (src/admission/held.ts) are kept: as durable as the
 * queue's storage, so a report answered 200 before the keys loaded survives a stop or a kill -9
 * wherever the queue's would. Three implementations live beside this file (memory.ts, sqlite.ts
 * in the spool's file, redis.ts in one list) and all pass test/contracts/held-store.contract.ts.
 *
 * Semantics every implementation keeps:
 * - `hold` resolves only once the report is as durable as the storage promises (SQLite:
 *   committed with the spool's group commit; Redis: acknowledged); it throws or rejects
 *   StorageUnavailableError when the storage cannot take it (full disk, Redis down).
 * - `list` returns held reports oldest first, without removing them; `remove` removes those
 *   given. A report is removed only after it was admitted, so a crash in between admits it again
 *   (at least once, as the queue).
 * - What a previous run held is listed again after a restart.
 */
import type { Auth } from "../../protocol/auth.ts";
import type { Endpoint } from "../item.ts";

/** A report held while keys load: what admission needs to check its key and decode it again. */
export interface HeldReport {
  /** How to decode `body` again: a store event or an envelope. */
  endpoint: Endpoint;
  auth: Auth;
  /** The project the URL named, null on the legacy path. */
  projectId: number | null;
  clientIp: string | null;
  /** The request path of a GET store report (its flood key), else null. */
  floodUrl: string | null;
  /** The main item's category, to count it if its key is refused. */
  category: string;
  /** The body size limit the request was read with (a store event is decoded against it again). */
  limit: number;
  /** The decoded body, a copy of its own (the request's buffers are reused once answered). */
  body: Uint8Array;
}

export interface StoredHeldReport extends HeldReport {
  /** Unique within the store; assigned by it. */
  id: string;
}

export interface HeldStore {
  readonly kind: "memory" | "sqlite" | "redis";
  /**
   * Reports and body bytes held: exact for memory and SQLite (a previous run's included); for
   * Redis what this process held and has not removed (the list is shared by a farm).
   */
  readonly count: number;
  readonly bytes: number;
  /** Keeps a report; see above for when it resolves and what it throws. */
  hold(report: HeldReport): void | Promise<void>;
  /** Up to `max` held reports, oldest first, not removed. */
  list(max: number): Promise<StoredHeldReport[]>;
  /** Removes reports returned by `list` (those already gone are ignored). */
  remove(reports: StoredHeldReport[]): Promise<void>;
}

/** Everything but the body, as one JSON text: how the SQLite and Redis stores keep a report. */
export type HeldMeta = Omit<HeldReport, "body">;

export function heldMeta(r: HeldReport): string {
  const meta: HeldMeta = {
    endpoint: r.endpoint,
    auth: r.auth,
    projectId: r.projectId,
    clientIp: r.clientIp,
    floodUrl: r.floodUrl,
    category: r.category,
    limit: r.limit,
  };
  return JSON.stringify(meta);
}

export function fromHeldMeta(id: string, meta: string, body: Uint8Array): StoredHeldReport {
  return { ...(JSON.parse(meta) as HeldMeta), body, id };
}

/**
 * Reports held while the project keys load for the first time (database down at start, a slow
 * Sentry API): SDKs drop a report answered 403 for good, so a well-formed one is answered 200 and
 * kept, bounded by MAX_PENDING_BYTES, until the keys arrive; then admission checks each key and
 * admits or rejects it (src/admission/admission.ts). As Relay holds envelopes while a project's
 * state is fetched.
 *
 * They are kept where the queue is (src/storage/held/: memory, the SQLite spool, Redis), so a
 * report answered 200 here survives a stop or a kill -9 wherever a queued one would, and what a
 * previous run held is admitted once this one's keys load.
 */
import { decodeEnvelope, decodeEvent, type Report } from "../protocol/report.ts";
import type { HeldReport, HeldStore, StoredHeldReport } from "../storage/held/index.ts";

export type { HeldReport };

/** A held report decoded again, as ingest decoded it, for the project its key has. */
export function decodeHeld(h: HeldReport, projectId: number, maxEventBytes: number): Report {
  return h.endpoint === "envelope" ? decodeEnvelope(h.body, projectId, h.auth.publicKey, maxEventBytes) : decodeEvent(h.body, h.auth.client, h.limit);
}

/** Held reports admitted per round: bounds the memory a release reads at once. */
const RELEASE_BATCH = 64;
/** Milliseconds before a release that failed (the storage down) is tried again. */
const RELEASE_RETRY_MS = 5000;

export class HeldReports {
  /** Bytes of holds not yet durable, counted against the bound until they are. */
  private pending = 0;
  private pendingCount = 0;
  /** Admitted reports whose removal failed: not admitted again while this process runs. */
  private readonly admitted = new Set<string>();
  private releasing: Promise<void> | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(
    readonly maxBytes: number,
    readonly store: HeldStore,
  ) {}

  get bytes(): number {
    return this.store.bytes + this.pending;
  }

  get count(): number {
    return this.store.count + this.pendingCount;
  }

  /**
   * Keeps a report: true once it is as durable as the storage promises, false when its bytes do
   * not fit MAX_PENDING_BYTES; throws or rejects the storage's StorageUnavailableError.
   */
  hold(report: HeldReport): boolean | Promise<boolean> {
    const n = report.body.byteLength;
    if (n > this.maxBytes - this.bytes) return false;
    const kept = this.store.hold(report);
    if (!(kept instanceof Promise)) return true;
    this.pending += n;
    this.pendingCount++;
    const settle = () => {
      this.pending -= n;
      this.pendingCount--;
    };
    return kept.then(
      () => (settle(), true),
      (e: unknown) => {
        settle();
        throw e;
      },
    );
  }

  /**
   * Hands every held report to `admit`, oldest first, removing each round once admitted (a crash
   * in between admits it again: at least once). A storage failure is tried again later.
   * Resolves once the store is empty, or the release stopped on a failure.
   */
  release(admit: (report: StoredHeldReport) => Promise<void>, onError: (e: unknown) => void): Promise<void> {
    this.releasing ??= this.drain(admit).then(
      () => {
        this.releasing = null;
      },
      (e: unknown) => {
        this.releasing = null;
        onError(e);
        if (!this.stopped) this.retry = setTimeout(() => void this.release(admit, onError), RELEASE_RETRY_MS);
      },
    );
    return this.releasing;
  }

  /** No release after this (the gateway stops). */
  stop(): void {
    this.stopped = true;
    if (this.retry !== null) clearTimeout(this.retry);
  }

  private async drain(admit: (report: StoredHeldReport) => Promise<void>): Promise<void> {
    for (;;) {
      const listed = await this.store.list(RELEASE_BATCH + this.admitted.size);
      const round = listed.filter((r) => !this.admitted.has(r.id)).slice(0, RELEASE_BATCH);
      if (round.length === 0 && listed.length === 0) return;
      if (this.stopped && round.length > 0) return; // removing what was admitted is still fine
      // A round at once: with the SQLite spool, one group commit for all of it.
      await Promise.all(
        round.map(async (r) => {
          await admit(r);
          this.admitted.add(r.id);
        }),
      );
      const done = listed.filter((r) => this.admitted.has(r.id));
      await this.store.remove(done);
      for (const r of done) this.admitted.delete(r.id);
      if (round.length === 0) return; // only reports whose removal failed are left
    }
  }
}

/**
 * Reports held while the project keys load for the first time (database down at start, a slow
 * Sentry API): SDKs drop a report answered 403 for good, so a well-formed one is answered 200 and
 * kept here, bounded by MAX_PENDING_BYTES, until the keys arrive; then admission checks each key
 * and admits or rejects it (src/admission/admission.ts). As Relay holds envelopes while a
 * project's state is fetched. They live in memory: a stop before the keys load loses them.
 */
import type { Auth } from "../protocol/auth.ts";
import type { Report } from "../protocol/report.ts";

export interface HeldReport {
  /** The decoded body, copied: the request's buffers are reused once it is answered. */
  bytes: Uint8Array;
  /** Decodes `bytes` again once the key is checked (the parsed event is not kept, only bytes count). */
  decode: (bytes: Uint8Array, projectId: number) => Report;
  auth: Auth;
  /** The project the URL named, null on the legacy path. */
  projectId: number | null;
  clientIp: string | null;
  floodUrl: string | null;
  /** The main item's category, to count it if its key is refused. */
  category: string;
}

export class HeldReports {
  private reports: HeldReport[] = [];
  private held = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.held;
  }

  get count(): number {
    return this.reports.length;
  }

  /** Keeps a report; false when its bytes do not fit. */
  hold(report: HeldReport): boolean {
    const n = report.bytes.byteLength;
    if (n > this.maxBytes - this.held) return false;
    this.held += n;
    this.reports.push(report);
    return true;
  }

  /** Every held report, oldest first, and empties the buffer. */
  takeAll(): HeldReport[] {
    const all = this.reports;
    this.reports = [];
    this.held = 0;
    return all;
  }
}

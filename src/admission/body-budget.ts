/**
 * The budget for request bodies in flight (MAX_INFLIGHT_BYTES): bytes being read, read and being
 * decoded, until the storage has taken the report or it was refused. The server takes from it
 * before it reads (the Content-Length, or each chunk of a body without one) and gives back when
 * the answer is settled; what does not fit is refused with a 429 before its body is read, so a
 * storm of large or stalled bodies cannot grow memory: resident memory stays below
 * MAX_QUEUE_BYTES + MAX_INFLIGHT_BYTES + MAX_PENDING_BYTES + the runtime's own (README).
 */
export class BodyBudget {
  private held = 0;

  constructor(readonly max: number) {}

  /** Bytes taken now. */
  get bytes(): number {
    return this.held;
  }

  /** Bytes that would still fit. */
  get available(): number {
    return this.max - this.held;
  }

  /** Takes `n` bytes; false, taking nothing, when they do not fit. */
  take(n: number): boolean {
    if (!(n >= 0 && n <= this.max - this.held)) return false; // NaN never fits
    this.held += n;
    return true;
  }

  give(n: number): void {
    this.held -= n;
  }
}

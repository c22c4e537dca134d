/**
 * Request timeouts for the forwarder without an AbortController, a listener and a timer per
 * request: requests that start within the same slot (a tenth of the timeout, at most 1 s) share
 * one controller, and one timer per slot aborts it once every request of the slot is overdue,
 * if any of them is still pending. A request thus times out between timeoutMs and
 * timeoutMs + slotMs after it started. `abortAll` (stop) aborts every live slot.
 */
export interface DeadlineSlot {
  readonly signal: AbortSignal;
  /** True once this slot's deadline aborted it (a timeout, not a stop). */
  timedOut: boolean;
}

class TimeoutError extends Error {
  override name = "TimeoutError";
}

interface Slot extends DeadlineSlot {
  controller: AbortController;
  pending: number;
  endsAt: number;
  timer: ReturnType<typeof setTimeout> | null;
}

export class SharedDeadlines {
  private current: Slot | null = null;
  private readonly live = new Set<Slot>();
  private readonly slotMs: number;

  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.slotMs = Math.max(1, Math.min(1000, timeoutMs / 10));
  }

  /** The slot a request starting now joins; give it back with `release` when the request settles. */
  acquire(): DeadlineSlot {
    const now = this.now();
    let slot = this.current;
    if (slot === null || now >= slot.endsAt) {
      const controller = new AbortController();
      slot = { controller, signal: controller.signal, timedOut: false, pending: 0, endsAt: now + this.slotMs, timer: null };
      const s = slot;
      s.timer = setTimeout(() => this.expire(s), this.slotMs + this.timeoutMs);
      // Pending requests keep the process alive by themselves; the deadline must not.
      (s.timer as { unref?: () => void }).unref?.();
      this.current = slot;
      this.live.add(slot);
    }
    slot.pending++;
    return slot;
  }

  release(slot: DeadlineSlot): void {
    const s = slot as Slot;
    s.pending--;
    if (s.pending === 0 && s !== this.current) this.drop(s);
  }

  /** Requests in flight under a deadline. */
  get pending(): number {
    let n = 0;
    for (const s of this.live) n += s.pending;
    return n;
  }

  abortAll(reason: unknown): void {
    for (const s of this.live) {
      s.controller.abort(reason);
      this.drop(s);
    }
    this.current = null;
  }

  /** The timer's work: abort the slot if any request in it is still pending. Tests call it. */
  expire(s: Slot): void {
    if (s.pending > 0) {
      s.timedOut = true;
      s.controller.abort(new TimeoutError(`timeout after ${this.timeoutMs} ms`));
    }
    this.drop(s);
    if (this.current === s) this.current = null;
  }

  private drop(s: Slot): void {
    if (s.timer !== null) clearTimeout(s.timer);
    s.timer = null;
    this.live.delete(s);
  }
}

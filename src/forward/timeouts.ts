/**
 * Request timeouts for the forwarder without a timer per request: every request gets the same
 * timeout, so deadlines arrive in the order requests start, and one timer set for the oldest
 * deadline serves them all. Arming and disarming are a Map insert and delete.
 */
export class TimeoutSweep {
  private readonly pending = new Map<number, { deadline: number; expire: () => void }>();
  private nextId = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly now: () => number = performance.now.bind(performance)) {}

  /** Calls `expire` once `timeoutMs` have passed, unless the returned disarm is called first. */
  arm(timeoutMs: number, expire: () => void): () => void {
    const id = this.nextId++;
    const deadline = this.now() + timeoutMs;
    this.pending.set(id, { deadline, expire });
    if (deadline < this.timerAt) this.schedule(deadline);
    return () => {
      this.pending.delete(id);
    };
  }

  get size(): number {
    return this.pending.size;
  }

  /** Fires every entry that is due; the timer calls it, tests may too. */
  sweep(): void {
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [id, entry] of this.pending) {
      if (entry.deadline > now) {
        // Deadlines grow with insertion order for one timeout, but not across different ones.
        next = Math.min(next, entry.deadline);
        continue;
      }
      this.pending.delete(id);
      entry.expire();
    }
    if (next !== Number.POSITIVE_INFINITY) this.schedule(next);
  }

  private schedule(at: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.sweep(), Math.max(0, at - this.now()));
    // Pending requests keep the process alive by themselves; the sweep must not.
    (this.timer as { unref?: () => void }).unref?.();
  }
}

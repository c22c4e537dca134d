/**
 * How late this process's event loop runs callbacks: a timer asks to run every `intervalMs` and
 * notes by how much it was late. While ingest keeps the loop busy, an answer from Sentry waits
 * about as long before its callback runs, so a response time measured here includes that wait;
 * the forwarder takes the recent lag out before the pacer reads the time as Sentry's latency.
 */
export class LoopLag {
  private timer: ReturnType<typeof setInterval> | null = null;
  private expected = 0;
  private last = 0;
  private previous = 0;

  constructor(
    private readonly intervalMs = 10,
    private readonly now: () => number = performance.now.bind(performance),
  ) {}

  /**
   * Lag of the loop lately, in ms: the larger of the last two ticks' lateness and of how overdue
   * the next tick is now (a stall still going on: answers are handled before the timer runs).
   */
  get ms(): number {
    const overdue = this.timer === null ? 0 : this.now() - this.expected;
    return Math.max(this.last, this.previous, overdue);
  }

  start(): void {
    if (this.timer !== null) return;
    this.expected = this.now() + this.intervalMs;
    this.schedule();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One tick: how late it ran. The timer calls it; tests call it with a fake clock. */
  tick(): void {
    const now = this.now();
    this.previous = this.last;
    this.last = Math.max(0, now - this.expected);
    this.expected = now + this.intervalMs;
  }

  /** One interval timer rather than a timeout per tick: each tick is due `intervalMs` after the last ran. */
  private schedule(): void {
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    (this.timer as { unref?: () => void }).unref?.();
  }
}

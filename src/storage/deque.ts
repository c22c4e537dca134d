/** What a deque keeps its values in: an Array, or a Float64Array for numbers. */
type Slots<T> = { [index: number]: T | undefined; readonly length: number };

/**
 * A growable ring buffer: O(1) push/pop at both ends without Array#shift's O(n) moves, and one
 * backing array per deque (no per-item node), so a queued item costs a single slot.
 *
 * `Deque.ofNumbers()` keeps its values in a Float64Array. The queues' indexes hold numbers only
 * (arena handles, row ids, sizes), and a plain Array of 100,000 or more slots is created in
 * JavaScriptCore's sparse layout, whose every slot the garbage collector visits again each time
 * the array is written; a typed array has nothing to visit.
 */
export class Deque<T> {
  private buf: Slots<T>;
  private head = 0;
  private len = 0;

  constructor(
    initialCapacity = 8,
    private readonly slots: (capacity: number) => Slots<T> = (n) => new Array<T | undefined>(n),
  ) {
    this.buf = slots(Math.max(2, initialCapacity));
  }

  static ofNumbers(initialCapacity = 8): Deque<number> {
    return new Deque<number>(initialCapacity, (n) => new Float64Array(n));
  }

  get length(): number {
    return this.len;
  }

  pushBack(value: T): void {
    if (this.len === this.buf.length) this.grow();
    this.buf[(this.head + this.len) % this.buf.length] = value;
    this.len++;
  }

  pushFront(value: T): void {
    if (this.len === this.buf.length) this.grow();
    this.head = (this.head - 1 + this.buf.length) % this.buf.length;
    this.buf[this.head] = value;
    this.len++;
  }

  popFront(): T | undefined {
    if (this.len === 0) return undefined;
    const value = this.buf[this.head];
    this.buf[this.head] = undefined; // let the item be collected (NaN in a Float64Array)
    this.head = (this.head + 1) % this.buf.length;
    this.len--;
    this.maybeShrink();
    return value;
  }

  popBack(): T | undefined {
    if (this.len === 0) return undefined;
    const i = (this.head + this.len - 1) % this.buf.length;
    const value = this.buf[i];
    this.buf[i] = undefined;
    this.len--;
    this.maybeShrink();
    return value;
  }

  private grow(): void {
    this.resize(this.buf.length * 2);
  }

  /** Give memory back after a storm drains (quarter full → half size). */
  private maybeShrink(): void {
    if (this.buf.length > 64 && this.len < this.buf.length >>> 2) this.resize(this.buf.length >>> 1);
  }

  private resize(capacity: number): void {
    const next = this.slots(capacity);
    for (let i = 0; i < this.len; i++) next[i] = this.buf[(this.head + i) % this.buf.length];
    this.buf = next;
    this.head = 0;
  }
}

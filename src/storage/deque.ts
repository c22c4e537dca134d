/**
 * A growable ring buffer: O(1) push/pop at both ends without Array#shift's O(n) moves, and one
 * backing array per deque (no per-item node), so a queued item costs a single slot.
 */
export class Deque<T> {
  private buf: Array<T | undefined>;
  private head = 0;
  private len = 0;

  constructor(initialCapacity = 8) {
    this.buf = new Array<T | undefined>(Math.max(2, initialCapacity));
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
    this.buf[this.head] = undefined; // let the item be collected
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
    const next = new Array<T | undefined>(capacity);
    for (let i = 0; i < this.len; i++) next[i] = this.buf[(this.head + i) % this.buf.length];
    this.buf = next;
    this.head = 0;
  }
}

/**
 * The budget for request bodies in flight (MAX_INFLIGHT_BYTES): bytes being read, read and being
 * decoded, until the storage has taken the report or it was refused. The server takes from it
 * before it reads (the Content-Length, or each chunk of a body without one) and gives back when
 * the answer is settled; what does not fit is refused with a 429 before its body is read, so a
 * storm of large or stalled bodies cannot grow memory: resident memory stays below
 * MAX_QUEUE_BYTES + MAX_INFLIGHT_BYTES + MAX_PENDING_BYTES + the runtime's own (README).
 *
 * Each client address holds at most MAX_INFLIGHT_BYTES_PER_CLIENT of it: a public key is public
 * by design, so one client with stalled uploads must not starve everyone else.
 */

/**
 * Client addresses tracked at once. An address is tracked only while it holds bytes; past this
 * many, the others share one account (bounded like any one client), so the map stays bounded.
 */
export const MAX_TRACKED_CLIENTS = 4096;
/** The account of the addresses past MAX_TRACKED_CLIENTS (and of requests without an address). */
export const OTHER_CLIENTS = "";

export class BodyBudget {
  private held = 0;
  /** Bytes held per client address; an address at 0 is removed. */
  private readonly clients = new Map<string, number>();

  constructor(
    readonly max: number,
    /** Most one client address may hold; the whole budget when absent. */
    readonly perClient: number = max,
  ) {}

  /** Bytes taken now. */
  get bytes(): number {
    return this.held;
  }

  /** Bytes that would still fit, for anyone. */
  get available(): number {
    return this.max - this.held;
  }

  /** Client addresses holding bytes now (at most MAX_TRACKED_CLIENTS + 1). */
  get trackedClients(): number {
    return this.clients.size;
  }

  /** The account a client's bytes are kept under: its own while there is room to track it. */
  account(client: string | null): string {
    if (client === null || client === OTHER_CLIENTS) return OTHER_CLIENTS;
    return this.clients.has(client) || this.clients.size < MAX_TRACKED_CLIENTS ? client : OTHER_CLIENTS;
  }

  /** Bytes that would still fit for this account (see `account`). */
  roomFor(account: string): number {
    return Math.min(this.max - this.held, this.perClient - (this.clients.get(account) ?? 0));
  }

  /** Takes `n` bytes for an account (see `account`); false, taking nothing, when they do not fit. */
  take(n: number, account: string = OTHER_CLIENTS): boolean {
    if (!(n >= 0 && n <= this.roomFor(account))) return false; // NaN never fits
    if (n === 0) return true;
    this.held += n;
    this.clients.set(account, (this.clients.get(account) ?? 0) + n);
    return true;
  }

  give(n: number, account: string = OTHER_CLIENTS): void {
    if (n === 0) return;
    this.held -= n;
    const left = (this.clients.get(account) ?? 0) - n;
    if (left > 0) this.clients.set(account, left);
    else this.clients.delete(account);
  }
}

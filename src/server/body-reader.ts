/**
 * Reading request bodies within the bodies-in-flight budget (admission's BodyBudget): a body is
 * taken from the budget before it is read (its Content-Length, or chunk by chunk without one),
 * read into one buffer of its declared size, and given back once its answer is settled. An
 * envelope whose credentials are only in its header is read up to its first line, checked, and
 * only then read further, so an unknown key is refused before anything large is buffered.
 */
import type { BodyBudget } from "../admission/body-budget.ts";
import { Detail, ProtocolError } from "../protocol/errors.ts";

/** The budget had no room for this body: answered 429 without reading it. */
export class OverBudget extends Error {
  override name = "OverBudget";
}

/** The body could not be read: the client closed the connection mid-body, or sent a broken chunked body. */
export class BodyUnread extends Error {
  override name = "BodyUnread";
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** The next chunk; a failed read is the client's (BodyUnread). */
async function next(reader: Reader): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }> {
  try {
    return await reader.read();
  } catch (e) {
    throw new BodyUnread(e);
  }
}

/** A 413 from inflation capped at the budget's room rather than the size limit is the budget's 429. */
export function inflateFailure(e: unknown, cap: number, limit: number): unknown {
  return e instanceof ProtocolError && e.status === 413 && cap < limit ? new OverBudget("no room to inflate the body") : e;
}

/** Bodies up to this many bytes with a Content-Length are read whole by Bun (arrayBuffer), above it into one preallocated buffer. */
export const WHOLE_READ_BYTES = 64 * 1024;

/** Longest envelope header line read before the key is checked (Relay's header lines are far shorter). */
export const MAX_HEAD_BYTES = 64 * 1024;

/**
 * Received bodies up to this size are left to the collector rather than detached at release:
 * detaching cost about 1.4 µs a report at the socket (paired runs, 3–4 % of its CPU), and the
 * young collection forced every 1,000 requests (gc-schedule.ts) bounds what such bodies can hold
 * to 1,000 × 16 KiB = 16 MiB, within the runtime's share of the memory bound (README).
 */
export const COLLECTED_BODY_BYTES = 16 * 1024;

/** One request's body: its bytes, a decoded copy, and what it holds of the budget until `release`. */
export class RequestBody {
  /** Bytes taken from the budget for this request. */
  private taken = 0;
  received: Uint8Array | null = null;
  decoded: Uint8Array | null = null;

  /** The client's account in the budget (BodyBudget.account): its address, or the shared one. */
  private readonly account: string;

  constructor(
    private readonly budget: BodyBudget,
    client: string | null = null,
  ) {
    this.account = budget.account(client);
  }

  /** Bytes this request could still take (the client's share and the whole budget's room). */
  get room(): number {
    return this.budget.roomFor(this.account);
  }

  /** Takes `n` more bytes of the budget; throws OverBudget when they do not fit. */
  take(n: number): void {
    if (!this.budget.take(n, this.account))
      throw new OverBudget(n <= this.budget.available ? "too many request bodies in flight from this client" : "too many request bodies in flight");
    this.taken += n;
  }

  /** Gives back `n` bytes taken earlier (a copy that is gone). */
  give(n: number): void {
    this.budget.give(n, this.account);
    this.taken -= n;
  }

  /**
   * Gives the budget back and detaches the body's buffers (a received one over
   * COLLECTED_BODY_BYTES), which frees their memory now: left to the collector, every body of a
   * storm stays allocated until the next collection, and with the allocator keeping freed pages
   * (src/cli/allocator.ts) that high-water mark stays resident. Only when nothing else refers to
   * them: the storage has copied or written the body by the time its push settled, and a held
   * report keeps a copy (admission/held.ts).
   */
  release(): void {
    this.budget.give(this.taken, this.account);
    this.taken = 0;
    const received = this.received?.buffer;
    const decoded = this.decoded?.buffer;
    if (decoded !== undefined && decoded !== received && decoded instanceof ArrayBuffer && !decoded.detached) decoded.transfer(0);
    if (received instanceof ArrayBuffer && received.byteLength > COLLECTED_BODY_BYTES && !received.detached) received.transfer(0);
    this.received = this.decoded = null;
  }
}

/** What the readers need of a body stream's reader (Bun's and the DOM's types differ in extras). */
export interface Reader {
  read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }>;
  cancel(): Promise<void>;
}

/**
 * Reads until the first newline (or the end, or MAX_HEAD_BYTES: an envelope's header line), each
 * chunk taken from the budget. Returns the chunks read; the rest stays unread in `reader`.
 */
export async function readHead(reader: Reader, body: RequestBody): Promise<{ chunks: Uint8Array[]; done: boolean }> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { value, done } = await next(reader);
    if (done) return { chunks, done: true };
    body.take(value.byteLength);
    chunks.push(value);
    length += value.byteLength;
    if (value.indexOf(0x0a) >= 0) return { chunks, done: false };
    if (length > MAX_HEAD_BYTES) throw new ProtocolError(400, Detail.invalidEnvelope, [`envelope header longer than ${MAX_HEAD_BYTES} bytes`]);
  }
}

/**
 * Reads the rest of a body after `head` (chunks already read and taken). With a declared length
 * the whole body is taken from the budget at once and read into one buffer of that size (no
 * growing copies); without one, chunk by chunk. Over `limit`: 413.
 */
export async function readRest(reader: Reader | null, body: RequestBody, head: Uint8Array[], declared: number | null, limit: number): Promise<Uint8Array> {
  const headBytes = head.reduce((n, c) => n + c.byteLength, 0);
  if (declared !== null) {
    body.take(declared);
    const out = new Uint8Array(declared);
    let at = 0;
    for (const c of head) at = copy(out, c, at);
    body.give(headBytes);
    while (reader !== null) {
      const { value, done } = await next(reader);
      if (done) break;
      at = copy(out, value, at);
    }
    return at === declared ? out : out.subarray(0, at);
  }
  const chunks = head;
  let length = headBytes;
  while (reader !== null) {
    const { value, done } = await next(reader);
    if (done) break;
    length += value.byteLength;
    if (length > limit) throw new ProtocolError(413, Detail.bodyTooLarge);
    body.take(value.byteLength);
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  body.take(length);
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) at = copy(out, c, at);
  body.give(length);
  return out;
}

/** Copies `chunk` into `out` at `at`; a body longer than it declared is a framing error. */
function copy(out: Uint8Array, chunk: Uint8Array, at: number): number {
  if (at + chunk.byteLength > out.byteLength) throw new ProtocolError(400, Detail.readBody, ["body longer than its Content-Length"]);
  out.set(chunk, at);
  return at + chunk.byteLength;
}

/** The chunks as one array (the head of an envelope, to parse its first line). */
export function joined(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) at = copy(out, c, at);
  return out;
}

/**
 * Envelopes ([DEV] envelopes.mdx; Relay `relay-server/src/envelope/mod.rs` `parse_bytes`,
 * `parse_headers`, `parse_item`, `require_termination`).
 *
 *   Envelope = Headers { "\n" Item } [ "\n" ] ;   Item = Headers "\n" Payload ;
 *
 * Rules reproduced byte for byte, since forwarded envelopes must be ones Relay accepts:
 * - a header is one JSON object; whitespace before it is skipped (serde's stream deserializer, so
 *   blank lines between items pass) but the byte right after its "}" must be "\n" or EOF
 *   (so "\r\n" line ends are malformed);
 * - with `length`: exactly that many payload bytes, then "\n" or EOF; fewer bytes → EOF error;
 * - without `length`: the payload runs to the next "\n" or EOF;
 * - after the last item one optional "\n", and nothing else (not even whitespace);
 * - a header-only envelope is valid; unknown item types and header fields are kept as they are.
 * Headers spread over several lines (valid JSON, accepted by serde) are refused here: the spec
 * says one line and no SDK writes them.
 * Payloads are `subarray` views: no copies.
 *
 * Bounds (ours; Relay has only the envelope's size): at most MAX_ENVELOPE_ITEMS items and header
 * lines of at most MAX_HEADER_BYTES, so one 20 MiB envelope of a million empty items or one huge
 * header line cannot hold the event loop (each item header is a JSON.parse, ~1-2 µs: 10,000 items
 * took 5-18 ms, 1,000 take 1-2). SDKs send a handful of items with headers of a few hundred bytes.
 */
import { parseDsn } from "./dsn.ts";
import { Detail, ProtocolError } from "./errors.ts";
import { normalizeEventId } from "./event-id.ts";
import { checkJsonDepth } from "./json-depth.ts";
import { isSpace, strictUtf8 } from "./text.ts";

export interface EnvelopeItem {
  headers: Record<string, unknown>;
  type: string;
  payload: Uint8Array;
}

export interface Envelope {
  headers: Record<string, unknown>;
  items: EnvelopeItem[];
}

const NL = 0x0a;
export const MAX_ENVELOPE_ITEMS = 1000;
export const MAX_HEADER_BYTES = 64 * 1024;

function invalid(cause: string): ProtocolError {
  return new ProtocolError(400, Detail.invalidEnvelope, [cause]);
}

interface HeaderLine {
  value: Record<string, unknown>;
  text: string;
}

/** Parses the JSON object line [start, end) whose last byte must be "}"; null when it is not one. */
function jsonObjectLine(bytes: Uint8Array, start: number, end: number): HeaderLine | null {
  if (end <= start || bytes[end - 1] !== 0x7d /* } */) return null;
  if (end - start > MAX_HEADER_BYTES) throw invalid(`header line over ${MAX_HEADER_BYTES} bytes`);
  let text: string;
  let value: unknown;
  try {
    text = strictUtf8.decode(bytes.subarray(start, end));
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return typeof value === "object" && value !== null && !Array.isArray(value) ? { value: value as Record<string, unknown>, text } : null;
}

const KEY_PATTERNS: Record<string, RegExp> = {
  type: /"type"\s*:/g,
  length: /"length"\s*:/g,
  sent_at: /"sent_at"\s*:/g,
};

/**
 * A key written twice is an error for serde structs but "last wins" for JSON.parse. A quoted key
 * cannot occur inside a JSON string (inner quotes are escaped), so counting `"key":` is exact up to
 * nested objects, which these headers do not have. The regex only runs when indexOf finds two.
 */
function hasDuplicateKey(text: string, key: "type" | "length" | "sent_at"): boolean {
  const quoted = `"${key}"`;
  const first = text.indexOf(quoted);
  if (first === -1 || text.indexOf(quoted, first + 1) === -1) return false;
  const re = KEY_PATTERNS[key]!;
  re.lastIndex = 0;
  let count = 0;
  while (re.exec(text) !== null) if (++count > 1) return true;
  return false;
}

// The event id's grammar is event-id.ts; re-exported for the callers that read envelopes.
export { normalizeEventId } from "./event-id.ts";

function checkEnvelopeHeaders(line: HeaderLine): void {
  const id = line.value.event_id;
  if (id !== undefined && id !== null && normalizeEventId(id) === null) throw invalid("invalid event_id");
  if (line.value.sent_at !== undefined && hasDuplicateKey(line.text, "sent_at")) {
    throw invalid("duplicate field `sent_at`");
  }
}

function itemHeaders(bytes: Uint8Array, start: number, end: number): { headers: Record<string, unknown>; type: string; length: number | null } {
  const line = jsonObjectLine(bytes, start, end);
  if (line === null) throw invalid("invalid item header");
  const headers = line.value;
  const type = headers.type;
  if (typeof type !== "string") throw invalid("missing or invalid item type");
  const length = headers.length;
  if (length !== undefined && length !== null) {
    if (typeof length !== "number" || !Number.isInteger(length) || length < 0 || length > 0xffffffff) {
      throw invalid("invalid item length");
    }
  }
  if (hasDuplicateKey(line.text, "type") || (length != null && hasDuplicateKey(line.text, "length"))) {
    throw invalid("duplicate field in item header");
  }
  return { headers, type, length: typeof length === "number" ? length : null };
}

/** End of the header line starting at `start` (index of "\n" or EOF). */
function lineEnd(bytes: Uint8Array, start: number): number {
  const nl = bytes.indexOf(NL, start);
  return nl === -1 ? bytes.length : nl;
}

export function parseEnvelope(bytes: Uint8Array): Envelope {
  const len = bytes.length;
  let pos = 0;
  while (pos < len && isSpace(bytes[pos]!)) pos++;
  if (pos >= len) throw invalid("missing envelope header");
  let end = lineEnd(bytes, pos);
  const header = jsonObjectLine(bytes, pos, end);
  if (header === null) throw invalid("invalid envelope header");
  checkEnvelopeHeaders(header);
  const headers = header.value;

  const items: EnvelopeItem[] = [];
  pos = end + 1;
  while (pos < len) {
    while (pos < len && isSpace(bytes[pos]!)) pos++;
    if (pos >= len) throw invalid("unexpected end of file");
    if (items.length >= MAX_ENVELOPE_ITEMS) throw invalid(`more than ${MAX_ENVELOPE_ITEMS} items`);
    end = lineEnd(bytes, pos);
    const item = itemHeaders(bytes, pos, end);
    const payloadStart = Math.min(end + 1, len);
    let payloadEnd: number;
    if (item.length !== null) {
      payloadEnd = payloadStart + item.length;
      if (payloadEnd > len) throw invalid("unexpected end of file");
      if (payloadEnd < len && bytes[payloadEnd] !== NL) throw invalid("missing newline after item payload");
    } else {
      payloadEnd = lineEnd(bytes, payloadStart);
    }
    items.push({ headers: item.headers, type: item.type, payload: bytes.subarray(payloadStart, payloadEnd) });
    pos = payloadEnd + 1;
  }
  return { headers, items };
}

/**
 * Only the first line as JSON (Relay `EnvelopeParams` request meta for dsn auth), cheap.
 * Throws 401 "bad envelope authentication header" if it is not a JSON object.
 */
export function parseEnvelopeHeader(bytes: Uint8Array): Record<string, unknown> {
  let end = lineEnd(bytes, 0);
  // serde_json::from_slice on the line tolerates whitespace around the value.
  while (end > 0 && isSpace(bytes[end - 1]!)) end--;
  let start = 0;
  while (start < end && isSpace(bytes[start]!)) start++;
  const header = jsonObjectLine(bytes, start, end);
  if (header === null) throw new ProtocolError(401, Detail.badEnvelopeAuth);
  return header.value;
}

/** event_id from the envelope header, else from the event/transaction item's JSON; 32 lowercase hex or null. */
export function envelopeEventId(env: Envelope): string | null {
  const fromHeader = normalizeEventId(env.headers.event_id);
  if (fromHeader !== null) return fromHeader;
  for (const item of env.items) {
    if (item.type !== "event" && item.type !== "transaction") continue;
    try {
      const event = JSON.parse(strictUtf8.decode(item.payload)) as unknown;
      if (typeof event === "object" && event !== null) {
        return normalizeEventId((event as Record<string, unknown>).event_id);
      }
    } catch {
      return null;
    }
  }
  return null;
}

/** The item that is an error event (type "event"), or null. */
export function envelopeEventItem(env: Envelope): EnvelopeItem | null {
  for (const item of env.items) if (item.type === "event") return item;
  return null;
}

/**
 * An event item's JSON object, bounded: over `maxEventBytes` (MAX_EVENT_SIZE, as Relay's item size
 * limits) → 413; nested deeper than MAX_JSON_DEPTH, invalid or not an object → 400.
 */
export function parseEventItem(item: EnvelopeItem, maxEventBytes: number): Record<string, unknown> {
  if (item.payload.length > maxEventBytes) throw new ProtocolError(413, Detail.envelopeTooLarge, ["event item too large"]);
  let value: unknown;
  try {
    const text = strictUtf8.decode(item.payload);
    checkJsonDepth(text, Detail.invalidEnvelope);
    value = JSON.parse(text);
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw invalid("invalid JSON in event item");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid("event item is not an object");
  return value as Record<string, unknown>;
}

/**
 * The item that decides an envelope's data category (for rate limits, sampling and outcomes):
 * the error event, else the transaction, else the first item; null for an empty envelope.
 */
export function envelopeMainItem(env: Envelope): EnvelopeItem | null {
  return envelopeEventItem(env) ?? env.items.find((i) => i.type === "transaction") ?? env.items[0] ?? null;
}

/**
 * Relay `EnvelopeHeaders::complete`: a `dsn` in the header must name the project and public key the
 * request authenticated with (project id checked only when the route has one) → else 400 "invalid
 * event envelope". An unparsable dsn fails header deserialization in Relay: also 400.
 */
export function checkEnvelopeDsn(env: Envelope | Record<string, unknown>, projectId: number | null, publicKey: string): void {
  const headers = isEnvelope(env) ? env.headers : env;
  const raw = headers.dsn;
  if (raw === undefined || raw === null) return;
  if (typeof raw !== "string") throw invalid("invalid dsn");
  let dsn;
  try {
    dsn = parseDsn(raw);
  } catch {
    throw invalid("invalid dsn");
  }
  if (projectId !== null && dsn.projectId !== projectId) throw invalid("dsn project id does not match the request");
  if (dsn.publicKey !== publicKey) throw invalid("dsn public key does not match the request");
}

function isEnvelope(v: Envelope | Record<string, unknown>): v is Envelope {
  return Array.isArray((v as Envelope).items) && typeof (v as Envelope).headers === "object";
}

/** Relay `Item::quantities` / `DataCategory` wire names per item type ([R] item.rs, data_category.rs). */
const CATEGORIES: Record<string, string> = {
  event: "error",
  transaction: "transaction",
  security: "security",
  raw_security: "security",
  nel: "security",
  attachment: "attachment",
  form_data: "attachment",
  unreal_report: "error",
  session: "session",
  sessions: "session",
  client_report: "internal",
  user_report: "feedback",
  feedback: "feedback",
  check_in: "monitor",
  profile: "profile",
  profile_chunk: "profile_chunk",
  replay_event: "replay",
  replay_recording: "replay",
  replay_video: "replay",
  span: "span",
  otel_span: "span",
  log: "log_item",
  otel_log: "log_item",
  trace_metric: "trace_metric",
  statsd: "metric_bucket",
  metric_buckets: "metric_bucket",
  metric_meta: "metric_bucket",
};

/** Rate-limit/data category of an item type; unknown types → "default". */
export function itemCategory(type: string): string {
  return Object.hasOwn(CATEGORIES, type) ? CATEGORIES[type]! : "default";
}

/**
 * What the queue holds: everything the forwarder needs to send Sentry a faithful equivalent of
 * the client's report later, with the body already decoded (no base64/zlib/gzip left), so that
 * what Sentry receives decodes to exactly what the client sent.
 */
import type { Auth } from "../protocol/auth.ts";
import type { Endpoint } from "../protocol/report.ts";

export type { Endpoint };

export interface NewItem {
  projectId: number;
  endpoint: Endpoint;
  /** The credentials as ingest parsed them (sentry_client is forwarded so Sentry's SDK stats stay right). */
  auth: Auth;
  clientIp: string | null;
  /** Content-Type to send upstream (application/json or application/x-sentry-envelope). */
  contentType: string;
  /** Decoded body bytes (JSON event for store, envelope bytes for envelope). */
  body: Uint8Array;
  /** Event id (32 hex) when the report carries an event; used in logs and answers. */
  eventId: string | null;
  /** Milliseconds since the epoch when cyclops accepted it. */
  receivedAt: number;
  /**
   * Rate-limit category of the main item, as ingest determined it, so the forwarder never parses
   * the body again. Absent from storages that do not keep it (SQLite): then it is derived.
   */
  category?: string;
}

export interface QueuedItem extends NewItem {
  /** Unique within the queue; assigned by the storage. */
  id: string;
  /** Upstream attempts so far that Sentry did not receive (network errors, 5xx). */
  attempts: number;
}

/** Bytes the item costs in the queue's byte bound. */
export const itemBytes = (item: NewItem): number => item.body.byteLength;

/**
 * Binary encoding shared by the memory and Redis queues: a metadata line, "\n", then the body
 * bytes. The body stays raw bytes (no base64) and the metadata is a positional JSON array rather
 * than an object (about 150 bytes instead of 300), so a 2 KB event costs ~2.2 KB queued.
 * Version 1 of the layout: [1, projectId, endpoint, publicKey, secretKey, client, version,
 * clientIp, contentType, eventId, receivedAt, attempts, category?] (category appended when known;
 * readers that predate it ignore the extra element). Version 2 is the same with the body
 * zstd-compressed (Redis storage, REDIS_COMPRESSION): a reader that knows only version 1 refuses
 * such an item instead of forwarding compressed bytes as the report.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LAYOUT = 1;
const LAYOUT_ZSTD = 2;

/**
 * The metadata line up to `version` is the same for every report of one key to one project, so it
 * is built (and UTF-8 encoded) once per credentials object and reused: the ingest pipeline hands
 * the same parsed credentials to every report with the same auth header. Only the short tail
 * (client IP, content type, event id, times) is written per item.
 */
interface HeadPrefix {
  projectId: number;
  endpoint: Endpoint;
  layout: number;
  bytes: Uint8Array;
}
/**
 * A Map, bounded, not a WeakMap: JavaScriptCore revisits every live WeakMap entry in each
 * collection, young ones included, so with 5,000 credentials (the sustained bench's projects) each
 * forced young collection took about 0.3-0.4 ms longer (in-process, 1,000 reports apart). The
 * credentials ingest hands over live in its cache anyway, so holding them here keeps nothing alive
 * that would otherwise go; past the bound the oldest entry goes.
 */
export const MAX_HEAD_PREFIXES = 16_384;
const headPrefixes = new Map<Auth, HeadPrefix>();

function headPrefix(item: NewItem, layout: number): Uint8Array {
  const a = item.auth;
  let p = headPrefixes.get(a);
  if (p === undefined || p.projectId !== item.projectId || p.endpoint !== item.endpoint || p.layout !== layout) {
    const text = JSON.stringify([layout, item.projectId, item.endpoint, a.publicKey, a.secretKey, a.client, a.version]);
    p = { projectId: item.projectId, endpoint: item.endpoint, layout, bytes: encoder.encode(`${text.slice(0, -1)},`) };
    if (headPrefixes.size >= MAX_HEAD_PREFIXES && !headPrefixes.has(a)) headPrefixes.delete(headPrefixes.keys().next().value!);
    headPrefixes.set(a, p);
  }
  return p.bytes;
}

/** Credentials whose head prefix is remembered (tests). */
export const headPrefixCount = (): number => headPrefixes.size;

/**
 * `allocate` lets the memory queue place the encoding in its slabs (slab-arena.ts); `compress`
 * stores the body zstd-compressed (layout 2).
 */
export function encodeItem(item: NewItem & { attempts?: number }, allocate: (bytes: number) => Uint8Array = (n) => new Uint8Array(n), compress = false): Uint8Array {
  const prefix = headPrefix(item, compress ? LAYOUT_ZSTD : LAYOUT);
  const category = item.category === undefined ? "" : `,${JSON.stringify(item.category)}`;
  const tail = `${JSON.stringify(item.clientIp)},${JSON.stringify(item.contentType)},${JSON.stringify(item.eventId)},${item.receivedAt},${item.attempts ?? 0}${category}]\n`;
  // One allocation per item: the header is written straight into the buffer that keeps it.
  const headBytes = prefix.byteLength + Buffer.byteLength(tail);
  const body = compress ? Bun.zstdCompressSync(item.body, { level: 1 }) : item.body;
  const out = allocate(headBytes + body.byteLength);
  out.set(prefix, 0);
  encoder.encodeInto(tail, out.subarray(prefix.byteLength, headBytes));
  out.set(body, headBytes);
  return out;
}

type Layout = [number, number, Endpoint, string, string | null, string | null, number, string | null, string, string | null, number, number, string?];

/**
 * `view`: the body is a view into `bytes` rather than a copy (the memory queue: its slot stays
 * the item's until the item is acked, and the forwarder is done with the body by then).
 */
export function decodeItem(id: string, bytes: Uint8Array, view = false): QueuedItem {
  const nl = bytes.indexOf(10);
  if (nl < 0) throw new Error(`corrupt queued item ${id}: no header line`);
  const m = JSON.parse(decoder.decode(bytes.subarray(0, nl))) as Layout;
  if (!Array.isArray(m) || (m[0] !== LAYOUT && m[0] !== LAYOUT_ZSTD)) throw new Error(`queued item ${id} has an unknown layout`);
  const item: QueuedItem = {
    id,
    projectId: m[1],
    endpoint: m[2],
    auth: { publicKey: m[3], secretKey: m[4], client: m[5], version: m[6] },
    clientIp: m[7],
    contentType: m[8],
    eventId: m[9],
    receivedAt: m[10],
    attempts: m[11],
    body: m[0] === LAYOUT_ZSTD ? Bun.zstdDecompressSync(bytes.subarray(nl + 1)) : view ? bytes.subarray(nl + 1) : bytes.slice(nl + 1),
  };
  if (typeof m[12] === "string") item.category = m[12];
  return item;
}

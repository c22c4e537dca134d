/**
 * What the queue holds: everything the forwarder needs to send Sentry a faithful equivalent of
 * the client's report later, with the body already decoded (no base64/zlib/gzip left), so that
 * what Sentry receives decodes to exactly what the client sent.
 */
export type Endpoint = "store" | "envelope";

export interface ItemAuth {
  publicKey: string;
  secretKey: string | null;
  /** sentry_client as the client sent it (forwarded so Sentry's SDK stats stay right). */
  client: string | null;
  version: number;
}

export interface NewItem {
  projectId: number;
  endpoint: Endpoint;
  auth: ItemAuth;
  clientIp: string | null;
  /** Content-Type to send upstream (application/json or application/x-sentry-envelope). */
  contentType: string;
  /** Decoded body bytes (JSON event for store, envelope bytes for envelope). */
  body: Uint8Array;
  /** Event id (32 hex) when the report carries an event; used in logs and answers. */
  eventId: string | null;
  /** Milliseconds since the epoch when cyclops accepted it. */
  receivedAt: number;
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
 * Binary encoding shared by the durable storages: a JSON header line, "\n", then the body bytes.
 * The body is kept as raw bytes (no base64) so a 2 KB event costs ~2.2 KB on disk or in Redis.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeItem(item: NewItem & { attempts?: number }): Uint8Array {
  // Field by field rather than spreading the item: this runs once per accepted report.
  const head = encoder.encode(
    JSON.stringify({
      projectId: item.projectId,
      endpoint: item.endpoint,
      auth: item.auth,
      clientIp: item.clientIp,
      contentType: item.contentType,
      eventId: item.eventId,
      receivedAt: item.receivedAt,
      attempts: item.attempts ?? 0,
    }) + "\n",
  );
  const body = item.body;
  const out = new Uint8Array(head.byteLength + body.byteLength);
  out.set(head, 0);
  out.set(body, head.byteLength);
  return out;
}

export function decodeItem(id: string, bytes: Uint8Array): QueuedItem {
  const nl = bytes.indexOf(10);
  if (nl < 0) throw new Error(`corrupt queued item ${id}: no header line`);
  const meta = JSON.parse(decoder.decode(bytes.subarray(0, nl))) as Omit<QueuedItem, "body" | "id">;
  return { ...meta, id, body: bytes.slice(nl + 1) };
}

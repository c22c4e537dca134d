/**
 * What a decoded request is to admission: a Report, with the category, event id and (for errors)
 * the parsed event the flood cut and sampling need. Store bodies and envelopes each have their
 * decoder here; the bytes-level parsing they call is in the files beside it.
 */
import { decodeStoreBody, parseEventJson } from "./body.ts";
import {
  checkEnvelopeDsn,
  envelopeEventId,
  envelopeEventItem,
  envelopeMainItem,
  itemCategory,
  normalizeEventId,
  parseEnvelope,
  type Envelope,
} from "./envelope.ts";
import { Detail, ProtocolError } from "./errors.ts";

/** The ingest endpoint a report came through, and goes to at Sentry. */
export type Endpoint = "store" | "envelope";

export const ENVELOPE_CONTENT_TYPE = "application/x-sentry-envelope";
const textDecoder = new TextDecoder();

/** What decoding a request produced, before the flood cut. */
export interface Report {
  body: Uint8Array;
  contentType: string;
  endpoint: Endpoint;
  eventId: string | null;
  /** Parsed error event, when the report is one (the flood cut applies only to errors). */
  errorEvent: Record<string, unknown> | null;
  /** Rate-limit category of the report's main item. */
  category: string;
  /** True for reports IGNORE_PERCENTAGE may sample (error events and transactions). */
  sampleable: boolean;
}

function randomEventId(): string {
  return crypto.randomUUID().replace(/-/g, "");
}

export function decodeEvent(raw: Uint8Array, client: string | null, limit: number): Report {
  const body = decodeStoreBody(raw, limit);
  const event = parseEventJson(body, client);
  const isTransaction = event.type === "transaction";
  return {
    body,
    contentType: "application/json",
    endpoint: "store",
    eventId: normalizeEventId(event.event_id) ?? randomEventId(),
    errorEvent: isTransaction ? null : event,
    category: isTransaction ? "transaction" : "error",
    sampleable: true,
  };
}

export function decodeEnvelope(raw: Uint8Array, projectId: number, publicKey: string): Report {
  const env: Envelope = parseEnvelope(raw);
  checkEnvelopeDsn(env, projectId, publicKey);
  const eventItem = envelopeEventItem(env);
  const main = envelopeMainItem(env);
  let errorEvent: Record<string, unknown> | null = null;
  if (eventItem) {
    try {
      errorEvent = JSON.parse(textDecoder.decode(eventItem.payload)) as Record<string, unknown>;
    } catch {
      throw new ProtocolError(400, Detail.invalidEnvelope, ["invalid JSON in event item"]);
    }
    if (typeof errorEvent !== "object" || errorEvent === null) throw new ProtocolError(400, Detail.invalidEnvelope, ["event item is not an object"]);
  }
  return {
    body: raw,
    contentType: ENVELOPE_CONTENT_TYPE,
    endpoint: "envelope",
    eventId: envelopeEventId(env),
    errorEvent,
    category: main ? itemCategory(main.type) : "default",
    sampleable: main !== null && (main.type === "event" || main.type === "transaction"),
  };
}

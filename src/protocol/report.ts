/**
 * What a decoded request is to admission: a Report, with the category, event id and (for errors)
 * the parsed event the flood cut and sampling need. Store bodies and envelopes each have their
 * decoder here; the bytes-level parsing they call is in the files beside it.
 */
import { decodeStoreBody, parseEventJson } from "./body.ts";
import { checkEnvelopeDsn, envelopeEventId, envelopeEventItem, envelopeMainItem, parseEventItem, itemCategory, parseEnvelope, type Envelope } from "./envelope.ts";
import { newEventId, storeEventId, withEventId } from "./event-id.ts";

/** The ingest endpoint a report came through, and goes to at Sentry. */
export type Endpoint = "store" | "envelope";

export const ENVELOPE_CONTENT_TYPE = "application/x-sentry-envelope";

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

export function decodeEvent(raw: Uint8Array, client: string | null, limit: number): Report {
  const decoded = decodeStoreBody(raw, limit);
  const event = parseEventJson(decoded, client);
  const isTransaction = event.type === "transaction";
  // Relay answers the id it generates and stores it: without one in the body, Sentry would not.
  const given = storeEventId(event);
  const eventId = given ?? newEventId();
  return {
    body: given === null ? withEventId(decoded, event, eventId) : decoded,
    contentType: "application/json",
    endpoint: "store",
    eventId,
    errorEvent: isTransaction ? null : event,
    category: isTransaction ? "transaction" : "error",
    sampleable: true,
  };
}

/** `maxEventBytes` (MAX_EVENT_SIZE) bounds the event item, as Relay's item size limits do. */
export function decodeEnvelope(raw: Uint8Array, projectId: number, publicKey: string, maxEventBytes: number): Report {
  const env: Envelope = parseEnvelope(raw);
  checkEnvelopeDsn(env, projectId, publicKey);
  const eventItem = envelopeEventItem(env);
  const main = envelopeMainItem(env);
  const errorEvent = eventItem ? parseEventItem(eventItem, maxEventBytes) : null;
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

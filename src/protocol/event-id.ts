/**
 * Event ids as Relay reads them (relay-event-schema `EventId`, a serde `Uuid`).
 *
 * Store endpoint (Relay endpoints/store.rs `parse_event` → common.rs `minimal_event_from_json`):
 * an `event_id` that is not a UUID fails serde and is answered 400 "invalid JSON data" with serde's
 * cause (uuid's "UUID parsing failed: …", or "invalid type: …, expected a UUID string"); an absent
 * or null one is generated (`EventId::new`) and that id is answered. Relay keeps the generated id
 * on the envelope; a gateway forwarding the body must write it into the body, or Sentry would
 * store another id than the SDK was told.
 */
import { Detail, ProtocolError } from "./errors.ts";

const UUID = /^(?:urn:uuid:)?\{?([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{12})\}?$/;

/** uuid crate forms (simple, hyphenated, braced, urn) → 32 lowercase hex; null if not a UUID. */
export function normalizeEventId(value: unknown): string | null {
  if (typeof value !== "string") return null;
  if (value.length === 32 && /^[0-9a-f]{32}$/.test(value)) return value;
  const m = UUID.exec(value);
  if (m === null) return null;
  // Hyphens must be all present or all absent, as the uuid crate demands.
  const hyphens = value.split("-").length - 1;
  if (hyphens !== 0 && hyphens !== 4) return null;
  return (m[1]! + m[2]! + m[3]! + m[4]! + m[5]!).toLowerCase();
}

/** serde's "invalid type" wording for a JSON value (serde::de::Unexpected). */
function unexpected(value: unknown): string {
  if (typeof value === "number") return Number.isInteger(value) ? `integer \`${value}\`` : `floating point \`${value}\``;
  if (typeof value === "boolean") return `boolean \`${value}\``;
  return Array.isArray(value) ? "sequence" : "map";
}

/**
 * A store event's id: 32 lowercase hex, or null when absent or null (the caller generates one).
 * Anything else → 400 "invalid JSON data", as Relay answers.
 */
export function storeEventId(event: Record<string, unknown>): string | null {
  const value = event.event_id;
  if (value === undefined || value === null) return null;
  const id = normalizeEventId(value);
  if (id !== null) return id;
  const cause = typeof value === "string" ? "UUID parsing failed: invalid UUID" : `invalid type: ${unexpected(value)}, expected a UUID string`;
  throw new ProtocolError(400, Detail.invalidJson, [cause]);
}

/** 32 lowercase hex, as Relay writes ids. */
export function newEventId(): string {
  return crypto.randomUUID().replace(/-/g, "");
}

const encoder = new TextEncoder();
const OPEN_BRACE = 0x7b;

/**
 * The store body with `event_id` set to `id`, for an event that had none. Cheap: the member is
 * written right after the opening brace, a copy of the body and no re-serialization. An explicit
 * `"event_id": null` is replaced by re-serializing instead (a second member would be a duplicate
 * field to serde); the event is depth-checked by then, so that cannot overflow.
 */
export function withEventId(body: Uint8Array, event: Record<string, unknown>, id: string): Uint8Array {
  if (Object.hasOwn(event, "event_id")) return encoder.encode(JSON.stringify({ ...event, event_id: id }));
  const brace = body.indexOf(OPEN_BRACE);
  if (brace === -1) throw new ProtocolError(400, Detail.invalidJson, ["not a JSON object"]);
  const empty = Object.keys(event).length === 0;
  const member = encoder.encode(`"event_id":"${id}"${empty ? "" : ","}`);
  const out = new Uint8Array(body.length + member.length);
  out.set(body.subarray(0, brace + 1), 0);
  out.set(member, brace + 1);
  out.set(body.subarray(brace + 1), brace + 1 + member.length);
  return out;
}

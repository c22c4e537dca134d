/** The spool's table and how a row becomes a queued item. */
import type { QueuedItem } from "./item.ts";

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS items (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL,
  endpoint TEXT NOT NULL,
  content_type TEXT NOT NULL,
  public_key TEXT NOT NULL,
  secret_key TEXT,
  client TEXT,
  version INTEGER NOT NULL,
  client_ip TEXT,
  event_id TEXT,
  received_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL,
  body BLOB NOT NULL
)`;

export interface Row {
  id: number;
  project_id: number;
  endpoint: "store" | "envelope";
  content_type: string;
  public_key: string;
  secret_key: string | null;
  client: string | null;
  version: number;
  client_ip: string | null;
  event_id: string | null;
  received_at: number;
  attempts: number;
  body: Uint8Array;
}

export function toItem(row: Row): QueuedItem {
  return {
    id: String(row.id),
    attempts: row.attempts,
    projectId: row.project_id,
    endpoint: row.endpoint,
    auth: { publicKey: row.public_key, secretKey: row.secret_key, client: row.client, version: row.version },
    clientIp: row.client_ip,
    contentType: row.content_type,
    body: row.body,
    eventId: row.event_id,
    receivedAt: row.received_at,
  };
}

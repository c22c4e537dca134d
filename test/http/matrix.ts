/**
 * Every ingest route × every way of authenticating × every body encoding, each with the status
 * Sentry's ingestion (Relay) answers for it (docs/PROTOCOL.md §1–5). The HTTP
 * suite asserts cyclops answers the same; `bun test/http/print-matrix.ts URL` prints the table.
 */
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";

export const PROJECT = 1;
export const OTHER_PROJECT = 2;
export const KEY = "0123456789abcdef0123456789abcdef";
export const SECRET = "fedcba9876543210fedcba9876543210";
export const OTHER_KEY = "11111111111111111111111111111111";
export const UNKNOWN_KEY = "99999999999999999999999999999999";
export const MATRIX_KEYS: Array<[number, string, string | null]> = [
  [PROJECT, KEY, SECRET],
  [OTHER_PROJECT, OTHER_KEY, null],
];

let seq = 0;
/** A distinct error event each call (so no flood cut applies). */
export function eventJson(message = `matrix event ${seq++}`): string {
  const id = crypto.randomUUID().replace(/-/g, "");
  return JSON.stringify({
    event_id: id,
    platform: "javascript",
    level: "error",
    exception: { values: [{ type: "Error", value: message, stacktrace: { frames: [{ filename: "app.js", function: `f${seq}`, lineno: 1, in_app: true }] } }] },
  });
}

export function envelopeOf(event: string, header: Record<string, unknown> = {}): string {
  const id = (JSON.parse(event) as { event_id: string }).event_id;
  return `${JSON.stringify({ event_id: id, sent_at: new Date().toISOString(), ...header })}\n{"type":"event","length":${Buffer.byteLength(event)}}\n${event}\n`;
}

const dsn = (key: string) => `http://${key}@127.0.0.1/${PROJECT}`;

export type AuthForm =
  | "x-sentry-auth"
  | "authorization-sentry"
  | "authorization-basic"
  | "query"
  | "envelope-dsn"
  | "none"
  | "multiple"
  | "unknown-key"
  | "malformed-key"
  | "other-project-key"
  | "wrong-secret"
  | "version-8";
export type Encoding = "json" | "gzip" | "x-gzip" | "deflate" | "br" | "raven-base64" | "raven-base64-zlib" | "get-sentry_data" | "unknown-encoding";
export type RoutePath = "/api/1/store/" | "/api/store/" | "/api/1/envelope/" | "/api/1/store" | "/api/1/envelope";

export interface MatrixCase {
  route: RoutePath;
  auth: AuthForm;
  encoding: Encoding;
  /** What Relay answers. */
  expected: number;
  request: () => { method: string; path: string; headers: Record<string, string>; body?: Uint8Array };
}

const header = (key: string, extra = "") => `Sentry sentry_version=7, sentry_client=matrix/1.0, sentry_key=${key}${extra}`;

function authParts(auth: AuthForm): { headers: Record<string, string>; query: string; dsnKey: string | null } {
  switch (auth) {
    case "x-sentry-auth":
      return { headers: { "X-Sentry-Auth": header(KEY) }, query: "", dsnKey: null };
    case "authorization-sentry":
      return { headers: { Authorization: header(KEY) }, query: "", dsnKey: null };
    case "authorization-basic":
      return { headers: { Authorization: `Basic ${btoa(`${KEY}:`)}` }, query: "", dsnKey: null };
    case "query":
      return { headers: {}, query: `sentry_version=7&sentry_client=matrix%2F1.0&sentry_key=${KEY}`, dsnKey: null };
    case "envelope-dsn":
      return { headers: {}, query: "", dsnKey: KEY };
    case "none":
      return { headers: {}, query: "", dsnKey: null };
    case "multiple":
      return { headers: { "X-Sentry-Auth": header(KEY) }, query: `sentry_key=${KEY}&sentry_version=7`, dsnKey: null };
    case "unknown-key":
      return { headers: { "X-Sentry-Auth": header(UNKNOWN_KEY) }, query: "", dsnKey: null };
    case "malformed-key":
      return { headers: { "X-Sentry-Auth": header("not-a-key") }, query: "", dsnKey: null };
    case "other-project-key":
      return { headers: { "X-Sentry-Auth": header(OTHER_KEY) }, query: "", dsnKey: null };
    case "wrong-secret":
      return { headers: { "X-Sentry-Auth": header(KEY, `, sentry_secret=${"0".repeat(32)}`) }, query: "", dsnKey: null };
    case "version-8":
      return { headers: { "X-Sentry-Auth": header(KEY).replace("sentry_version=7", "sentry_version=8") }, query: "", dsnKey: null };
  }
}

const enc = new TextEncoder();

function encodeBody(text: string, encoding: Encoding): { body?: Uint8Array; headers: Record<string, string> } {
  const raw = enc.encode(text);
  switch (encoding) {
    case "json":
      return { body: raw, headers: {} };
    case "gzip":
      return { body: gzipSync(raw), headers: { "Content-Encoding": "gzip" } };
    case "x-gzip":
      return { body: gzipSync(raw), headers: { "Content-Encoding": "x-gzip" } };
    case "deflate":
      return { body: deflateSync(raw), headers: { "Content-Encoding": "deflate" } };
    case "br":
      return { body: brotliCompressSync(raw), headers: { "Content-Encoding": "br" } };
    case "raven-base64":
      return { body: enc.encode(Buffer.from(raw).toString("base64")), headers: {} };
    case "raven-base64-zlib":
      return { body: enc.encode(deflateSync(raw).toString("base64")), headers: {} };
    case "unknown-encoding":
      return { body: raw, headers: { "Content-Encoding": "lzma" } };
    case "get-sentry_data":
      return { headers: {} };
  }
}

/** Relay's answer for one combination (docs/PROTOCOL.md §2 table, §4, §5). */
function expectedStatus(route: RoutePath, auth: AuthForm, encoding: Encoding): number | null {
  const isEnvelope = route.includes("envelope");
  if (encoding === "get-sentry_data" && isEnvelope) return null; // envelope has no GET
  if ((encoding === "raven-base64" || encoding === "raven-base64-zlib") && isEnvelope) return null; // raven bodies are store-only
  if (auth === "envelope-dsn" && !isEnvelope) return null; // dsn auth exists only in envelopes
  if (encoding === "get-sentry_data" && auth !== "query" && auth !== "unknown-key" && auth !== "none") return null; // GET carries auth in the query
  // Relay decompresses in a layer in front of every handler (tower-http RequestDecompressionLayer),
  // so an unsupported Content-Encoding is answered 415 before credentials are looked at.
  if (encoding === "unknown-encoding") return 415;
  switch (auth) {
    case "none":
      return 401;
    case "multiple":
      return 401;
    case "malformed-key":
      return 400;
    case "version-8":
      return 400;
    case "unknown-key":
      return 403;
    case "other-project-key":
      return route === "/api/store/" ? 200 : 403; // legacy path: project comes from the key
    case "wrong-secret":
      return 403; // CHECK_SECRET_KEY (the original's rule; Relay ignores secrets)
  }
  return 200;
}

export function matrixCases(): MatrixCase[] {
  const routes: RoutePath[] = ["/api/1/store/", "/api/1/store", "/api/store/", "/api/1/envelope/", "/api/1/envelope"];
  const auths: AuthForm[] = [
    "x-sentry-auth",
    "authorization-sentry",
    "authorization-basic",
    "query",
    "envelope-dsn",
    "none",
    "multiple",
    "unknown-key",
    "malformed-key",
    "other-project-key",
    "wrong-secret",
    "version-8",
  ];
  const encodings: Encoding[] = ["json", "gzip", "x-gzip", "deflate", "br", "raven-base64", "raven-base64-zlib", "get-sentry_data", "unknown-encoding"];
  const cases: MatrixCase[] = [];
  for (const route of routes)
    for (const auth of auths)
      for (const encoding of encodings) {
        const expected = expectedStatus(route, auth, encoding);
        if (expected === null) continue;
        cases.push({
          route,
          auth,
          encoding,
          expected,
          request: () => {
            const parts = authParts(auth);
            const event = eventJson();
            const isEnvelope = route.includes("envelope");
            if (encoding === "get-sentry_data") {
              const q = [parts.query, auth === "unknown-key" ? `sentry_key=${UNKNOWN_KEY}&sentry_version=7` : "", `sentry_data=${encodeURIComponent(event)}`]
                .filter(Boolean)
                .join("&");
              return { method: "GET", path: `${route}?${q}`, headers: {} };
            }
            const text = isEnvelope ? envelopeOf(event, parts.dsnKey ? { dsn: dsn(parts.dsnKey) } : {}) : event;
            const { body, headers } = encodeBody(text, encoding);
            return {
              method: "POST",
              path: parts.query ? `${route}?${parts.query}` : route,
              headers: { "Content-Type": isEnvelope ? "application/x-sentry-envelope" : "application/json", ...parts.headers, ...headers },
              body,
            };
          },
        });
      }
  return cases;
}

export async function send(base: string, req: ReturnType<MatrixCase["request"]>): Promise<Response> {
  return fetch(base + req.path, { method: req.method, headers: req.headers, body: req.body });
}

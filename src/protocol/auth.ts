/**
 * Client credentials, exactly as Relay reads them.
 *
 * Sources, in Relay's order (`auth_from_parts`, relay-server `extractors/request_meta.rs`):
 *   1. `X-Sentry-Auth`, only when it starts with "sentry " (case-insensitive);
 *   2. `Authorization`, same rule;
 *   3. `Authorization: Basic base64(public_key:secret)` (silently skipped when undecodable);
 *   4. the query string, when it contains "sentry_" anywhere.
 * A second source → 401 "multiple authorization payloads detected"; none → null (the caller decides
 * between 401 "missing authorization information" and envelope-header auth).
 * Header values that are not visible ASCII are skipped, as `HeaderValue::to_str` fails on them.
 *
 * Pair grammar and checks: sentry-types `Auth::from_str` / `from_pairs` (401 "bad x-sentry-auth
 * header" on an empty key or a non-numeric version), then `ProjectKey::parse_with_flags` (400 "bad
 * sentry DSN public key") and the version ceiling (400 "unsupported protocol version (N)"). The key
 * and version checks run after the multiple-source check, as in Relay.
 */
import { Detail, ProtocolError } from "./errors.ts";

export interface Auth {
  publicKey: string;
  secretKey: string | null;
  client: string | null;
  version: number;
}

export interface AuthInputs {
  xSentryAuth: string | null;
  authorization: string | null;
  /** raw query string without "?" */
  query: string;
}

/** Relay's `PROTOCOL_VERSION` (relay-event-schema); also the default when none is sent. */
export const LATEST_PROTOCOL_VERSION = 7;

/** Credentials before key/version validation (sentry-types `Auth`). */
interface RawAuth {
  key: string;
  secret: string | null;
  client: string | null;
  version: number;
}

function badHeader(): ProtocolError {
  return new ProtocolError(401, Detail.badAuthHeader);
}

/** Accumulates `from_pairs` state; the version check happens per pair, like the Rust loop. */
function applyPair(raw: RawAuth, key: string, value: string): void {
  switch (key) {
    case "sentry_key":
      raw.key = value;
      return;
    case "sentry_secret":
      raw.secret = value;
      return;
    case "sentry_client":
      raw.client = value;
      return;
    case "sentry_version":
      raw.version = parseVersion(value);
      return;
  }
}

/** Rust `u16::from_str` on the part before the first ".". */
function parseVersion(value: string): number {
  const dot = value.indexOf(".");
  const head = dot === -1 ? value : value.slice(0, dot);
  if (!/^\+?[0-9]+$/.test(head)) throw badHeader();
  const n = Number(head);
  if (n > 65535) throw badHeader();
  return n;
}

function newRaw(): RawAuth {
  return { key: "", secret: null, client: null, version: LATEST_PROTOCOL_VERSION };
}

function finishRaw(raw: RawAuth): RawAuth {
  if (raw.key === "") throw badHeader();
  return raw;
}

function parseHeaderRaw(value: string): RawAuth {
  const space = value.indexOf(" ");
  const prefix = space === -1 ? value : value.slice(0, space);
  if (prefix.toLowerCase() !== "sentry") throw badHeader();
  const raw = newRaw();
  if (space === -1) return finishRaw(raw);
  for (const item of value.slice(space + 1).split(",")) {
    const eq = item.indexOf("=");
    if (eq === -1) continue;
    // Rust `split('=')` keeps only the first two pieces: a value containing "=" is cut there.
    const eq2 = item.indexOf("=", eq + 1);
    const k = item.slice(0, eq).trim();
    const v = (eq2 === -1 ? item.slice(eq + 1) : item.slice(eq + 1, eq2)).trim();
    applyPair(raw, k, v);
  }
  return finishRaw(raw);
}

const HEX = /^[0-9a-fA-F]{32}$/;

/**
 * `ProjectKey::parse_with_flags`: 32 chars then optional ".flag" suffixes, which are stripped.
 * Relay itself only demands 32 ASCII chars; Sentry only ever issues hex keys, so anything else is
 * refused here as malformed rather than looked up.
 */
export function parsePublicKey(key: string): string {
  const dot = key.indexOf(".");
  const bare = dot === -1 ? key : key.slice(0, dot);
  if (!HEX.test(bare)) throw new ProtocolError(400, Detail.badPublicKey);
  return bare;
}

function validate(raw: RawAuth): Auth {
  const publicKey = parsePublicKey(raw.key);
  if (raw.version > LATEST_PROTOCOL_VERSION) {
    throw new ProtocolError(400, Detail.unsupportedVersion(raw.version));
  }
  return { publicKey, secretKey: raw.secret, client: raw.client, version: raw.version };
}

/** The "Sentry k=v, ..." grammar, validated (401 grammar errors, 400 key/version). */
export function parseAuthHeader(value: string): Auth {
  return validate(parseHeaderRaw(value));
}

// ---- query string (hot path: GET store and every browser SDK request) ----

/** `application/x-www-form-urlencoded` decoding of one component: "+" is a space, bad escapes stay. */
export function formDecode(s: string): string {
  if (s.indexOf("%") === -1) return s.indexOf("+") === -1 ? s : s.replaceAll("+", " ");
  // Work on the UTF-8 bytes, like the url crate: escapes may form multi-byte sequences.
  const src = isAscii(s) ? asciiBytes(s) : Buffer.from(s, "utf8");
  const out = new Uint8Array(src.length);
  let n = 0;
  let high = 0;
  for (let i = 0; i < src.length; i++) {
    let c = src[i]!;
    if (c === 0x25 /* % */ && i + 2 < src.length) {
      const hi = hexValue(src[i + 1]!);
      const lo = hexValue(src[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        c = (hi << 4) | lo;
        i += 2;
      }
    } else if (c === 0x2b /* + */) {
      c = 0x20;
    }
    high |= c;
    out[n++] = c;
  }
  // Short pure ASCII (the usual sentry_client) needs no UTF-8 decoder; long values must not be
  // spread into arguments (engine argument limits).
  return high < 0x80 && n <= 256 ? String.fromCharCode(...out.subarray(0, n)) : lossyDecoder.decode(out.subarray(0, n));
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function asciiBytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

const lossyDecoder = new TextDecoder("utf-8");

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Pairs are only decoded when their key may be one of ours, so `sentry_data` costs one scan. */
function parseQueryRaw(query: string): RawAuth {
  const raw = newRaw();
  let start = 0;
  const len = query.length;
  while (start <= len) {
    let end = query.indexOf("&", start);
    if (end === -1) end = len;
    if (end > start) {
      const eq = query.indexOf("=", start);
      const keyEnd = eq === -1 || eq > end ? end : eq;
      const rawKey = query.slice(start, keyEnd);
      const key = formDecode(rawKey);
      if (key === "sentry_key" || key === "sentry_secret" || key === "sentry_client" || key === "sentry_version") {
        applyPair(raw, key, keyEnd === end ? "" : formDecode(query.slice(keyEnd + 1, end)));
      }
    }
    start = end + 1;
  }
  return finishRaw(raw);
}

/** Credentials from a query string; null when it does not mention "sentry_" (Relay's trigger). */
export function parseAuthQuery(query: string): Auth | null {
  if (query.indexOf("sentry_") === -1) return null;
  return validate(parseQueryRaw(query));
}

// ---- all sources ----

/** `HeaderValue::to_str`: visible ASCII and tab only, else the header is treated as absent. */
function isVisibleAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c > 0x7e) return false;
  }
  return true;
}

function sentryScheme(value: string | null): string | null {
  if (value === null || value.length < 7) return null;
  if (value.slice(0, 7).toLowerCase() !== "sentry ") return null;
  return isVisibleAscii(value) ? value : null;
}

/**
 * Relay's Basic form, `base64(public_key:secret)`: any decoding failure means "no credentials
 * here", not an error. The part after the colon is the secret, checked like a secret given in any
 * other place (an empty one counts as none).
 */
function basicCredentials(value: string | null): { key: string; secret: string | null } | null {
  if (value === null || value.length < 6 || value.slice(0, 6).toLowerCase() !== "basic ") return null;
  if (!isVisibleAscii(value)) return null;
  const b64 = value.slice(6);
  // data_encoding BASE64: canonical, padded, no whitespace.
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return null;
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(b64, "base64"));
  } catch {
    return null;
  }
  const colon = decoded.indexOf(":");
  if (colon <= 0) return null;
  const secret = decoded.slice(colon + 1);
  return { key: decoded.slice(0, colon), secret: secret === "" ? null : secret };
}

/**
 * Credentials from the request (X-Sentry-Auth, Authorization: Sentry, Authorization: Basic, query).
 * null when none. Throws ProtocolError (401 multiple payloads / bad header, 400 bad key / version).
 */
export function extractAuth(inputs: AuthInputs): Auth | null {
  let raw: RawAuth | null = null;
  const header = sentryScheme(inputs.xSentryAuth);
  if (header !== null) raw = parseHeaderRaw(header);

  const authorization = sentryScheme(inputs.authorization);
  if (authorization !== null) {
    if (raw !== null) throw new ProtocolError(401, Detail.multipleAuth);
    raw = parseHeaderRaw(authorization);
  }

  const basic = basicCredentials(inputs.authorization);
  if (basic !== null) {
    if (raw !== null) throw new ProtocolError(401, Detail.multipleAuth);
    raw = newRaw();
    raw.key = basic.key;
    raw.secret = basic.secret;
  }

  if (inputs.query.indexOf("sentry_") !== -1) {
    if (raw !== null) throw new ProtocolError(401, Detail.multipleAuth);
    raw = parseQueryRaw(inputs.query);
  }

  return raw === null ? null : validate(raw);
}

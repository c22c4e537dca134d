/**
 * Request bodies: raven's base64/zlib store bodies and event JSON (Content-Encoding is
 * content-encoding.ts). Sources: Relay store.rs `decode_bytes` (base64, then zlib, capped) and the
 * `json_forensics` NaN fix-up for Python clients.
 */
import { inflateZlib, tooLarge } from "./content-encoding.ts";
import { Detail, ProtocolError } from "./errors.ts";
import { checkJsonDepth } from "./json-depth.ts";
import { isSpace, strictUtf8 } from "./text.ts";

// Content-Encoding lives in content-encoding.ts; re-exported for the callers that read bodies.
export { checkContentEncoding, decodeContentEncoding, decodeContentEncodingBounded } from "./content-encoding.ts";

// ---- raven base64 / base64+zlib ----

function firstNonSpace(b: Uint8Array): number {
  let i = 0;
  while (i < b.length && isSpace(b[i]!)) i++;
  return i;
}

/** Standard alphabet, padded (Relay uses data_encoding's strict BASE64); surrounding space allowed. */
function decodeBase64(b: Uint8Array): Uint8Array {
  let start = firstNonSpace(b);
  let end = b.length;
  while (end > start && isSpace(b[end - 1]!)) end--;
  const len = end - start;
  let ok = len % 4 === 0;
  for (let i = start; ok && i < end; i++) {
    const c = b[i]!;
    const alpha = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;
    // "=" only as the last one or two characters.
    if (!alpha && !(c === 0x3d && i >= end - 2 && (i === end - 1 || b[end - 1] === 0x3d))) ok = false;
  }
  if (!ok) throw new ProtocolError(400, Detail.readBody, ["invalid base64 data"]);
  return Buffer.from(Buffer.from(b.buffer, b.byteOffset + start, len).toString("latin1"), "base64");
}

function startsWithBrace(b: Uint8Array): boolean {
  const i = firstNonSpace(b);
  return i < b.length && b[i] === 0x7b;
}

/** base64 → JSON as is, or → zlib-inflated (capped) JSON. */
function decodeRavenBinary(b64: Uint8Array, maxBytes: number): Uint8Array {
  const binary = decodeBase64(b64);
  const out = startsWithBrace(binary) ? binary : inflateZlib(binary, maxBytes);
  if (out.length > maxBytes) throw tooLarge(maxBytes);
  return out;
}

/**
 * Store bodies: JSON as is; raven's base64 and base64(zlib(JSON)) detected regardless of headers
 * (Relay `decode_bytes`): a body not starting with "{" (after leading whitespace) is base64; if that
 * starts with "{" it is used, else it is zlib-inflated, capped at maxBytes.
 */
export function decodeStoreBody(body: Uint8Array, maxBytes: number): Uint8Array {
  if (body.length === 0 || startsWithBrace(body)) return body;
  return decodeRavenBinary(body, maxBytes);
}

const encoder = new TextEncoder();

/**
 * GET ?sentry_data= value (already percent-decoded): JSON, or base64 / base64+zlib as in
 * decodeStoreBody. Form decoding turns an unescaped "+" into a space, which cannot occur in base64,
 * so spaces inside a base64 value are read back as "+".
 */
export function decodeSentryData(value: string, maxBytes: number): Uint8Array {
  const trimmed = value.trim();
  if (trimmed.startsWith("{") || trimmed === "") {
    const bytes = encoder.encode(value);
    if (bytes.length > maxBytes) throw tooLarge(maxBytes);
    return bytes;
  }
  return decodeRavenBinary(encoder.encode(trimmed.replaceAll(" ", "+")), maxBytes);
}

// ---- event JSON ----

function isLegacyPython(client: string | null): boolean {
  return client !== null && (client.startsWith("raven-python/") || client.startsWith("sentry-python/") || client.startsWith("sentry.python"));
}

/**
 * json_forensics' substitution: NaN, Infinity and -Infinity outside strings become null. Only run
 * after a failed JSON.parse, so valid bodies pay nothing.
 */
export function replaceNonFiniteTokens(text: string): string {
  let out = "";
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    let token = 0;
    if (c === 0x4e /* N */ && text.startsWith("NaN", i)) token = 3;
    else if (c === 0x49 /* I */ && text.startsWith("Infinity", i)) token = 8;
    else if (c === 0x2d /* - */ && text.startsWith("-Infinity", i)) token = 9;
    if (token > 0) {
      out += text.slice(last, i) + "null";
      i += token - 1;
      last = i + 1;
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

function invalidJson(cause?: string): ProtocolError {
  return new ProtocolError(400, Detail.invalidJson, cause === undefined ? [] : [cause]);
}

/**
 * Parses an event JSON object. Python clients (raven-python/, sentry-python/, sentry.python) may send
 * NaN/Infinity/-Infinity: replaced with null outside strings, only after a first parse fails.
 * Empty → 400 "empty request body"; invalid UTF-8, invalid JSON, JSON nested deeper than
 * MAX_JSON_DEPTH or not an object → 400 "invalid JSON data".
 */
export function parseEventJson(bytes: Uint8Array, client: string | null): Record<string, unknown> {
  if (bytes.length === 0) throw new ProtocolError(400, Detail.emptyBody);
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw invalidJson("invalid utf-8");
  }
  checkJsonDepth(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    if (!isLegacyPython(client)) throw invalidJson((e as Error).message);
    try {
      value = JSON.parse(replaceNonFiniteTokens(text));
    } catch (e2) {
      throw invalidJson((e2 as Error).message);
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidJson("not a JSON object");
  return value as Record<string, unknown>;
}

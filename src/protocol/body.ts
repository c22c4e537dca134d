/**
 * Request bodies: Content-Encoding, raven's base64/zlib store bodies, and event JSON.
 *
 * Every inflation is capped with node:zlib's `maxOutputLength`, which aborts the stream as soon as
 * the output would pass the cap (a 1 GiB gzip bomb costs a few ms and ~1 MiB), so a bomb gets 413
 * without ever being inflated. Sources: Relay `HttpEncoding::parse` (relay-config), its
 * `RequestDecompressionLayer` (tower-http: 415 for an unknown encoding), store.rs `decode_bytes`
 * (base64, then zlib) and the `json_forensics` NaN fix-up for Python clients.
 */
import * as zlib from "node:zlib";
import { Detail, ProtocolError } from "./errors.ts";
import { isSpace, strictUtf8 } from "./text.ts";

type Inflate = (buf: Uint8Array, opts: zlib.ZlibOptions | zlib.BrotliOptions) => Buffer;

// node:zlib's zstd (Bun and Node ≥ 22.15) takes maxOutputLength; Bun.zstdDecompressSync does not,
// so without the former zstd is refused (415) rather than inflated uncapped.
const zstdDecompressSync = (zlib as unknown as { zstdDecompressSync?: Inflate }).zstdDecompressSync;

function tooLarge(maxBytes: number): ProtocolError {
  return new ProtocolError(413, Detail.bodyTooLarge, [`decoded body exceeds ${maxBytes} bytes`]);
}

/** Runs a capped inflater, turning zlib's errors into protocol errors. */
function inflate(fn: Inflate, name: string, input: Uint8Array, maxBytes: number): Uint8Array {
  try {
    return fn(input, { maxOutputLength: Math.max(1, maxBytes) });
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === "ERR_BUFFER_TOO_LARGE") throw tooLarge(maxBytes);
    throw new ProtocolError(400, Detail.readBody, [
      `failed to decode ${name} payload`,
      (err.message ?? String(e)).toLowerCase(),
    ]);
  }
}

/** zlib streams start with CMF/FLG: method 8 and a header checksum divisible by 31 (RFC 1950). */
function hasZlibHeader(b: Uint8Array): boolean {
  return b.length >= 2 && (b[0]! & 0x0f) === 8 && ((b[0]! << 8) | b[1]!) % 31 === 0;
}

function decodeOne(body: Uint8Array, encoding: string, maxBytes: number): Uint8Array {
  switch (encoding) {
    case "gzip":
    case "x-gzip":
      return inflate(zlib.gunzipSync, "gzip", body, maxBytes);
    case "deflate":
      // HTTP's "deflate" is zlib, but some clients send raw deflate; the header tells them apart.
      return hasZlibHeader(body)
        ? inflate(zlib.inflateSync, "zlib", body, maxBytes)
        : inflate(zlib.inflateRawSync, "deflate", body, maxBytes);
    case "br":
      return inflate(zlib.brotliDecompressSync, "brotli", body, maxBytes);
    case "zstd":
      if (zstdDecompressSync !== undefined) return checkZstdComplete(body, inflate(zstdDecompressSync, "zstd", body, maxBytes));
  }
  throw new ProtocolError(415, Detail.unsupportedEncoding, [`'${encoding}'`]);
}

/**
 * Bun's node:zlib zstd returns what it decoded so far when the stream is cut short, instead of
 * failing. The first frame's header usually declares its content size (SDKs compress whole bodies
 * in one go), so a shorter output is a truncated stream.
 */
function checkZstdComplete(input: Uint8Array, output: Uint8Array): Uint8Array {
  const declared = zstdContentSize(input);
  if (output.length === 0 || (declared !== null && output.length < declared)) {
    throw new ProtocolError(400, Detail.readBody, ["failed to decode zstd payload", "truncated zstd stream"]);
  }
  return output;
}

/** Frame_Content_Size of the first zstd frame (RFC 8878 §3.1.1.1), null when not declared. */
function zstdContentSize(b: Uint8Array): number | null {
  if (b.length < 6 || b[0] !== 0x28 || b[1] !== 0xb5 || b[2] !== 0x2f || b[3] !== 0xfd) return null;
  const fhd = b[4]!;
  const singleSegment = (fhd >> 5) & 1;
  const fcsFlag = fhd >> 6;
  const dictBytes = [0, 1, 2, 4][fhd & 3]!;
  const fcsBytes = fcsFlag === 0 ? singleSegment : [0, 2, 4, 8][fcsFlag]!;
  if (fcsBytes === 0) return null;
  const at = 5 + (singleSegment ? 0 : 1) + dictBytes;
  if (b.length < at + fcsBytes) return null;
  let size = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) size = size * 256 + b[at + i]!;
  return fcsBytes === 2 ? size + 256 : size;
}

/**
 * Content-Encoding: gzip, x-gzip, deflate (zlib, also raw deflate), br, zstd (when capped inflation
 * is available), identity; "" and "UTF-8" ignored (sentry-ruby 5, sentry-java android quirks);
 * several comma-separated encodings undone last-first. Output over maxBytes (compressed or not) →
 * 413; unknown encoding → 415; corrupt stream → 400 "failed to read request body" with causes.
 * An empty body stays empty (the caller answers "empty request body").
 */
export function decodeContentEncoding(body: Uint8Array, encoding: string | null, maxBytes: number): Uint8Array {
  let out = body;
  if (encoding !== null && encoding !== "" && body.length > 0) {
    const parts = encoding.split(",");
    for (let i = parts.length - 1; i >= 0; i--) {
      const name = parts[i]!.trim().toLowerCase();
      if (name === "" || name === "utf-8" || name === "identity") continue;
      out = decodeOne(out, name, maxBytes);
    }
  }
  if (out.length > maxBytes) throw tooLarge(maxBytes);
  return out;
}

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
    const alpha =
      (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;
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
  const out = startsWithBrace(binary) ? binary : inflate(zlib.inflateSync, "zlib", binary, maxBytes);
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
  return (
    client !== null &&
    (client.startsWith("raven-python/") || client.startsWith("sentry-python/") || client.startsWith("sentry.python"))
  );
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
 * Empty → 400 "empty request body"; invalid UTF-8, invalid JSON or not an object → 400 "invalid JSON data".
 */
export function parseEventJson(bytes: Uint8Array, client: string | null): Record<string, unknown> {
  if (bytes.length === 0) throw new ProtocolError(400, Detail.emptyBody);
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw invalidJson("invalid utf-8");
  }
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

const KNOWN_ENCODINGS = new Set(["", "utf-8", "identity", "gzip", "x-gzip", "deflate", "br", ...(zstdDecompressSync ? ["zstd"] : [])]);

/**
 * Relay undoes Content-Encoding in a layer in front of every handler, so an unsupported encoding
 * is answered 415 before the credentials are even looked at; this lets the pipeline do the same
 * without reading the body first.
 */
export function checkContentEncoding(encoding: string | null): void {
  if (encoding === null || encoding === "") return;
  for (const part of encoding.split(",")) {
    const name = part.trim().toLowerCase();
    if (!KNOWN_ENCODINGS.has(name)) throw new ProtocolError(415, Detail.unsupportedEncoding, [`'${name}'`]);
  }
}

/**
 * Content-Encoding: undoing gzip, deflate, br and zstd with a cap on the output.
 *
 * Every inflation is capped with node:zlib's `maxOutputLength`, which aborts as soon as the output
 * would pass the cap (a 1 GiB gzip bomb costs a few ms and ~1 MiB), so a bomb gets 413 without
 * ever being inflated. Sources: Relay `HttpEncoding::parse` (relay-config) and its
 * `RequestDecompressionLayer` (tower-http: 415 for an unknown encoding).
 *
 * Inflating on the event loop holds every other request: 20 MiB of gzip output takes ~40 ms.
 * `decodeContentEncodingBounded` therefore inflates synchronously only up to SYNC_OUTPUT_BYTES
 * (what nearly every report is, well under a millisecond) and hands anything larger to zlib's
 * thread pool, so no single body holds the loop for more than about a millisecond.
 */
import * as zlib from "node:zlib";
import { Detail, ProtocolError } from "./errors.ts";

type InflateOptions = zlib.ZlibOptions | zlib.BrotliOptions;
type Inflate = (buf: Uint8Array, opts: InflateOptions) => Buffer;
type InflateAsync = (buf: Uint8Array, opts: InflateOptions, cb: (e: Error | null, out: Buffer) => void) => void;

/** Output inflated on the event loop before the rest goes to the thread pool (~0.5 ms of gzip). */
export const SYNC_OUTPUT_BYTES = 256 * 1024;

// node:zlib's zstd (Bun and Node ≥ 22.15) takes maxOutputLength; Bun.zstdDecompressSync does not,
// so without the former zstd is refused (415) rather than inflated uncapped.
const zstdSync = (zlib as unknown as { zstdDecompressSync?: Inflate }).zstdDecompressSync;
const zstdAsync = (zlib as unknown as { zstdDecompress?: InflateAsync }).zstdDecompress;

interface Codec {
  name: string;
  sync: Inflate;
  async: InflateAsync;
}

const GZIP: Codec = { name: "gzip", sync: zlib.gunzipSync, async: zlib.gunzip as unknown as InflateAsync };
const ZLIB: Codec = { name: "zlib", sync: zlib.inflateSync, async: zlib.inflate as unknown as InflateAsync };
const RAW: Codec = { name: "deflate", sync: zlib.inflateRawSync, async: zlib.inflateRaw as unknown as InflateAsync };
const BROTLI: Codec = { name: "brotli", sync: zlib.brotliDecompressSync, async: zlib.brotliDecompress as unknown as InflateAsync };
const ZSTD: Codec | null = zstdSync && zstdAsync ? { name: "zstd", sync: zstdSync, async: zstdAsync } : null;

export function tooLarge(maxBytes: number): ProtocolError {
  return new ProtocolError(413, Detail.bodyTooLarge, [`decoded body exceeds ${maxBytes} bytes`]);
}

function failed(name: string, e: unknown): ProtocolError {
  const err = e as { message?: string };
  return new ProtocolError(400, Detail.readBody, [`failed to decode ${name} payload`, (err.message ?? String(e)).toLowerCase()]);
}

function isOverCap(e: unknown): boolean {
  return (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
}

/** Runs a capped inflater on the event loop, turning zlib's errors into protocol errors. */
function inflateSync(codec: Codec, input: Uint8Array, maxBytes: number): Uint8Array {
  try {
    return checkComplete(codec, input, codec.sync(input, { maxOutputLength: Math.max(1, maxBytes) }));
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw isOverCap(e) ? tooLarge(maxBytes) : failed(codec.name, e);
  }
}

/**
 * Inflations in zlib's thread pool at once. Each may grow to its cap (20 MiB for an envelope)
 * before failing, and the async API holds its chunks and their concatenation (twice the output)
 * at the end, so without a bound a burst of bombs would hold 40 MiB each at the same time. One at
 * a time, as on the event loop before; the rest wait their turn, holding only their input.
 */
export const INFLATE_SLOTS = 1;
let inflating = 0;
const waiting: Array<() => void> = [];

/** Inflations running in the thread pool now (at most INFLATE_SLOTS). */
export function inflationsInFlight(): number {
  return inflating;
}

/** A finished inflation hands its slot to the longest waiting one. */
function releaseSlot(): void {
  const next = waiting.shift();
  if (next) next();
  else inflating--;
}

/** The same in zlib's thread pool, at most INFLATE_SLOTS at once. */
function inflateAsync(codec: Codec, input: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const start = () => inflateNow(codec, input, maxBytes).finally(releaseSlot);
  if (inflating < INFLATE_SLOTS) {
    inflating++;
    return start();
  }
  return new Promise<void>((go) => waiting.push(go)).then(start);
}

function inflateNow(codec: Codec, input: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    codec.async(input, { maxOutputLength: Math.max(1, maxBytes) }, (e, out) => {
      if (e) reject(isOverCap(e) ? tooLarge(maxBytes) : failed(codec.name, e));
      else {
        try {
          resolve(checkComplete(codec, input, out));
        } catch (err) {
          reject(err);
        }
      }
    });
  });
}

/** The raven store body's zlib, inflated on the event loop (bounded by MAX_EVENT_SIZE). */
export function inflateZlib(input: Uint8Array, maxBytes: number): Uint8Array {
  return inflateSync(ZLIB, input, maxBytes);
}

/** zlib streams start with CMF/FLG: method 8 and a header checksum divisible by 31 (RFC 1950). */
function hasZlibHeader(b: Uint8Array): boolean {
  return b.length >= 2 && (b[0]! & 0x0f) === 8 && ((b[0]! << 8) | b[1]!) % 31 === 0;
}

function codecFor(body: Uint8Array, encoding: string): Codec {
  switch (encoding) {
    case "gzip":
    case "x-gzip":
      return GZIP;
    case "deflate":
      // HTTP's "deflate" is zlib, but some clients send raw deflate; the header tells them apart.
      return hasZlibHeader(body) ? ZLIB : RAW;
    case "br":
      return BROTLI;
    case "zstd":
      if (ZSTD !== null) return ZSTD;
  }
  throw new ProtocolError(415, Detail.unsupportedEncoding, [`'${encoding}'`]);
}

/**
 * Bun's node:zlib zstd returns what it decoded so far when the stream is cut short, instead of
 * failing. The first frame's header usually declares its content size (SDKs compress whole bodies
 * in one go), so a shorter output is a truncated stream.
 */
function checkComplete(codec: Codec, input: Uint8Array, output: Uint8Array): Uint8Array {
  if (codec !== ZSTD) return output;
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

/** The encodings to undo, last-first; "", "UTF-8" and identity skipped. */
function layers(body: Uint8Array, encoding: string | null): string[] {
  if (encoding === null || encoding === "" || body.length === 0) return [];
  const out: string[] = [];
  const parts = encoding.split(",");
  for (let i = parts.length - 1; i >= 0; i--) {
    const name = parts[i]!.trim().toLowerCase();
    if (name !== "" && name !== "utf-8" && name !== "identity") out.push(name);
  }
  return out;
}

/**
 * Content-Encoding: gzip, x-gzip, deflate (zlib, also raw deflate), br, zstd (when capped inflation
 * is available), identity; "" and "UTF-8" ignored (sentry-ruby 5, sentry-java android quirks);
 * several comma-separated encodings undone last-first. Output over maxBytes (compressed or not) →
 * 413; unknown encoding → 415; corrupt stream → 400 "failed to read request body" with causes.
 * An empty body stays empty (the caller answers "empty request body"). All on the event loop.
 */
export function decodeContentEncoding(body: Uint8Array, encoding: string | null, maxBytes: number): Uint8Array {
  let out = body;
  for (const name of layers(body, encoding)) out = inflateSync(codecFor(out, name), out, maxBytes);
  if (out.length > maxBytes) throw tooLarge(maxBytes);
  return out;
}

/**
 * As decodeContentEncoding, but no body holds the event loop: a single layer whose output fits
 * SYNC_OUTPUT_BYTES is inflated at once (the common case, no promise); anything larger is
 * inflated again in zlib's thread pool. Errors are the same ProtocolErrors, thrown or rejected.
 */
export function decodeContentEncodingBounded(body: Uint8Array, encoding: string | null, maxBytes: number): Uint8Array | Promise<Uint8Array> {
  const names = layers(body, encoding);
  if (names.length === 0) {
    if (body.length > maxBytes) throw tooLarge(maxBytes);
    return body;
  }
  if (names.length === 1) {
    const codec = codecFor(body, names[0]!);
    try {
      return inflateSync(codec, body, Math.min(maxBytes, SYNC_OUTPUT_BYTES));
    } catch (e) {
      // Over the small cap but maybe within the real one: finish off the loop.
      if (!(e instanceof ProtocolError && e.status === 413 && maxBytes > SYNC_OUTPUT_BYTES)) throw e;
      return inflateAsync(codec, body, maxBytes);
    }
  }
  return (async () => {
    let out = body;
    for (const name of names) out = await inflateAsync(codecFor(out, name), out, maxBytes);
    return out;
  })();
}

const KNOWN_ENCODINGS = new Set(["", "utf-8", "identity", "gzip", "x-gzip", "deflate", "br", ...(ZSTD ? ["zstd"] : [])]);

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

/**
 * One POST as bytes: request line, Host, the caller's headers, Content-Length, then the body, in
 * one buffer so it leaves in one write. Header names and values that could split the request
 * (CR, LF, NUL) or are not bytes (over U+00FF) are refused, as fetch refuses them.
 *
 * The client frames each request into one reused buffer (FrameBuffer) right before it writes it:
 * a fresh buffer per request cost about 5 µs of allocation, first-touch and copying per event.
 */
import { Buffer } from "node:buffer";

/** Headers the client frames itself; the caller's copies are ignored. */
const FRAMING = new Set(["host", "content-length", "transfer-encoding", "connection"]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const UNSAFE_VALUE = /[\r\n\0]|[^\x00-\xff]/;

/** Header names seen, and whether the client sends them (false: framing it writes itself). The forwarder uses a handful. */
const checkedNames = new Map<string, boolean>();

function sendable(name: string): boolean {
  let ok = checkedNames.get(name);
  if (ok === undefined) {
    if (!HEADER_NAME.test(name)) throw new TypeError(`invalid header name: ${JSON.stringify(name.slice(0, 40))}`);
    ok = !FRAMING.has(name.toLowerCase());
    // Bounded: a caller with endless distinct names only loses the cache.
    if (checkedNames.size < 256) checkedNames.set(name, ok);
  }
  return ok;
}

export interface Target {
  /** host[:port] as the Host header carries it. */
  host: string;
  /** Path and query. */
  path: string;
}

/** The request line and headers of a POST of `bodyLength` bytes, CRLF CRLF included. Pure; throws TypeError on unsafe input. */
export function postHead(target: Target, headers: Record<string, string>, bodyLength: number): string {
  if (UNSAFE_VALUE.test(target.path) || target.path.includes(" ")) throw new TypeError("invalid request path");
  let head = `POST ${target.path} HTTP/1.1\r\nhost: ${target.host}\r\n`;
  for (const name in headers) {
    const value = headers[name]!;
    if (UNSAFE_VALUE.test(value)) throw new TypeError(`invalid value for header ${name}`);
    if (!sendable(name)) continue;
    head += `${name}: ${value}\r\n`;
  }
  return `${head}content-length: ${bodyLength}\r\n\r\n`;
}

const encoder = new TextEncoder();

/**
 * Head and body in one buffer that is reused: a frame is valid until the next one is made.
 * Frames over `reusedBytes` (rare) get a buffer of their own, so the reused one stays small.
 */
export class FrameBuffer {
  private readonly buffer: Uint8Array;

  constructor(reusedBytes: number) {
    this.buffer = new Uint8Array(reusedBytes);
  }

  frame(head: string, body: Uint8Array): Uint8Array {
    const size = head.length + body.length;
    const out = size <= this.buffer.length ? this.buffer.subarray(0, size) : new Uint8Array(size);
    // The head is almost always ASCII, which UTF-8 writes byte for byte; Latin-1 otherwise.
    const { read, written } = encoder.encodeInto(head, out);
    if (read !== head.length || written !== head.length) Buffer.from(out.buffer, out.byteOffset, head.length).write(head, 0, "latin1");
    out.set(body, head.length);
    return out;
  }
}

/** One POST as a buffer of its own. */
export function serializePost(target: Target, headers: Record<string, string>, body: Uint8Array): Uint8Array {
  return new FrameBuffer(0).frame(postHead(target, headers, body.length), body);
}

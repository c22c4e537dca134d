/**
 * One POST as bytes: request line, Host, the caller's headers, Content-Length, then the body, in
 * one buffer so it leaves in one write. Pure. Header names and values that could split the
 * request (CR, LF, NUL) or are not bytes (over U+00FF) are refused, as fetch refuses them.
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

export function serializePost(target: Target, headers: Record<string, string>, body: Uint8Array): Uint8Array {
  if (UNSAFE_VALUE.test(target.path) || target.path.includes(" ")) throw new TypeError("invalid request path");
  let head = `POST ${target.path} HTTP/1.1\r\nhost: ${target.host}\r\n`;
  for (const name in headers) {
    const value = headers[name]!;
    if (UNSAFE_VALUE.test(value)) throw new TypeError(`invalid value for header ${name}`);
    if (!sendable(name)) continue;
    head += `${name}: ${value}\r\n`;
  }
  head += `content-length: ${body.length}\r\n\r\n`;
  const out = Buffer.allocUnsafe(head.length + body.length);
  out.write(head, 0, "latin1");
  out.set(body, head.length);
  return out;
}

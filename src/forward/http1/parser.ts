/**
 * An HTTP/1.1 response parser, pure and incremental: push() the bytes as they arrive, in any
 * split, and it returns the response once whole. Only what Sentry's answers need: a status
 * line, headers (names case-insensitive), a body by Content-Length, chunked, or until the
 * connection closes, bounded by maxBodyBytes. 1xx answers are skipped. Anything malformed
 * throws a ResponseParseError: the caller treats it as a network error (Sentry gave no answer
 * we can trust), never as Sentry's verdict.
 */
import { headerName, ResponseHeaders, tokens } from "./response-headers.ts";

export { ResponseHeaders };

export class ResponseParseError extends Error {
  override name = "ResponseParseError";
  readonly code = "HTTP_PARSE";
}

export interface ParsedResponse {
  status: number;
  headers: ResponseHeaders;
  body: Uint8Array;
  /** The connection may carry another request: HTTP/1.1, no Connection: close, body delimited. */
  keepAlive: boolean;
}

export interface ParserLimits {
  maxHeadBytes: number;
  maxBodyBytes: number;
}

export const DEFAULT_LIMITS: ParserLimits = { maxHeadBytes: 64 * 1024, maxBodyBytes: 1024 * 1024 };

const CR = 13;
const LF = 10;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [^\r\n]*)?$/;
const EMPTY = new Uint8Array(0);
/** Header bytes as text. (The Encoding standard's latin1 is windows-1252: it differs only in 0x80-0x9F, which no header we read holds.) */
const LATIN1 = new TextDecoder("latin1");

type State = "head" | "length" | "chunk-size" | "chunk-data" | "chunk-data-end" | "trailers" | "until-close" | "done" | "finished";

export class ResponseParser {
  private state: State = "head";
  /** Bytes of the head (or of a chunk-size / trailer line) not yet complete. */
  private pending: Uint8Array = EMPTY;
  private status = 0;
  private headers = new ResponseHeaders(new Map());
  private keepAlive = false;
  private body: Uint8Array = EMPTY;
  private bodyLength = 0;
  private chunkLeft = 0;
  private parts: Uint8Array[] = [];
  /** True once any byte of an answer arrived. */
  started = false;

  constructor(private readonly limits: ParserLimits = DEFAULT_LIMITS) {}

  /**
   * Feeds bytes; returns the response once complete, else null. Bytes after the response (none
   * are expected: one request at a time) are reported by `extra`.
   */
  push(chunk: Uint8Array): ParsedResponse | null {
    if (chunk.length > 0) this.started = true;
    let pos = 0;
    while (pos < chunk.length || this.state === "done") {
      switch (this.state) {
        case "head": {
          const end = this.headEnd(chunk, pos);
          if (end < 0) return null;
          pos = end;
          break;
        }
        case "chunk-size":
        case "trailers": {
          const end = this.lineEnd(chunk, pos);
          if (end < 0) {
            this.appendPending(chunk.subarray(pos));
            return null;
          }
          this.onLine(chunk, pos, end);
          pos = end;
          break;
        }
        case "length": {
          const n = Math.min(this.body.length - this.bodyLength, chunk.length - pos);
          this.body.set(chunk.subarray(pos, pos + n), this.bodyLength);
          this.bodyLength += n;
          pos += n;
          if (this.bodyLength === this.body.length) this.state = "done";
          break;
        }
        case "chunk-data": {
          const n = Math.min(this.chunkLeft, chunk.length - pos);
          this.addPart(chunk.subarray(pos, pos + n));
          this.chunkLeft -= n;
          pos += n;
          if (this.chunkLeft === 0) this.state = "chunk-data-end";
          break;
        }
        case "chunk-data-end": {
          // The CRLF after a chunk's data; pending holds a CR seen at the end of a previous push.
          const b = chunk[pos]!;
          pos++;
          if (this.pending.length === 0 && b === CR) this.pending = new Uint8Array([CR]);
          else if (this.pending.length === 1 && b === LF) {
            this.pending = EMPTY;
            this.state = "chunk-size";
          } else throw new ResponseParseError("chunk data not followed by CRLF");
          break;
        }
        case "until-close":
          this.addPart(chunk.subarray(pos));
          pos = chunk.length;
          break;
        case "done":
          this.state = "finished";
          this.extra = chunk.length - pos;
          return this.finish();
        case "finished":
          // One response per parser: later bytes are only counted.
          this.extra += chunk.length - pos;
          return null;
      }
    }
    return null;
  }

  /** Bytes received after the response, on the push() that completed it. */
  extra = 0;

  /** The connection closed: completes a body read until close; else the answer was cut. */
  end(): ParsedResponse {
    if (this.state === "until-close") {
      this.state = "finished";
      return this.finish();
    }
    throw new ResponseParseError(this.started ? "connection closed mid-response" : "connection closed before any response");
  }

  /** Index just past the LF ending the line that starts in pending + chunk[pos..], or -1. */
  private lineEnd(chunk: Uint8Array, pos: number): number {
    const i = chunk.indexOf(LF, pos);
    const limit = this.state === "trailers" ? this.limits.maxHeadBytes : 1024;
    if (this.pending.length + (i < 0 ? chunk.length : i) - pos > limit) throw new ResponseParseError("response head too large");
    return i < 0 ? -1 : i + 1;
  }

  private appendPending(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const out = new Uint8Array(this.pending.length + bytes.length);
    out.set(this.pending);
    out.set(bytes, this.pending.length);
    this.pending = out;
  }

  /** One whole line (pending + chunk[from..to)), CRLF included. */
  private onLine(chunk: Uint8Array, from: number, to: number): void {
    let bytes = chunk.subarray(from, to);
    if (this.pending.length > 0) {
      this.appendPending(bytes);
      bytes = this.pending;
      this.pending = EMPTY;
    }
    if (bytes.length < 2 || bytes[bytes.length - 2] !== CR) throw new ResponseParseError("line not ended by CRLF");
    const line = LATIN1.decode(bytes.subarray(0, bytes.length - 2));
    if (this.state === "chunk-size") return this.onChunkSize(line);
    if (line === "") this.state = "done";
  }

  /**
   * Finds the head's end (CRLF CRLF) in pending + chunk[pos..] and parses the head; returns the
   * index in chunk just past it, or -1 when more bytes are needed (kept in pending).
   */
  private headEnd(chunk: Uint8Array, pos: number): number {
    const carried = this.pending.length;
    let buf = chunk;
    let from = pos;
    if (carried > 0) {
      this.appendPending(chunk.subarray(pos));
      buf = this.pending;
      from = 0;
    }
    // Search from where the last push stopped, less the 3 bytes a split CRLF CRLF may straddle.
    let i = buf.indexOf(LF, Math.max(from, carried - 3));
    while (i >= 0) {
      if (i === from || buf[i - 1] !== CR) throw new ResponseParseError("line not ended by CRLF");
      if (i - 3 >= from && buf[i - 2] === LF && buf[i - 3] === CR) break;
      i = buf.indexOf(LF, i + 1);
    }
    if (i < 0) {
      if (buf.length - from > this.limits.maxHeadBytes) throw new ResponseParseError("response head too large");
      if (carried === 0) this.appendPending(chunk.subarray(pos));
      return -1;
    }
    if (i + 1 - from > this.limits.maxHeadBytes) throw new ResponseParseError("response head too large");
    this.pending = EMPTY;
    this.onHead(LATIN1.decode(buf.subarray(from, i - 3)));
    return carried > 0 ? pos + (i + 1 - carried) : i + 1;
  }

  private onHead(head: string): void {
    let eol = head.indexOf("\r\n");
    if (eol < 0) eol = head.length;
    const statusLine = head.slice(0, eol);
    const m = STATUS_LINE.exec(statusLine);
    if (!m) throw new ResponseParseError(`malformed status line: ${JSON.stringify(statusLine.slice(0, 60))}`);
    const http11 = m[1] === "1";
    const status = Number(m[2]);
    const map = new Map<string, string>();
    let lines = 1;
    for (let start = eol + 2; start < head.length; start = eol + 2) {
      if (++lines > 256) throw new ResponseParseError("too many response headers");
      eol = head.indexOf("\r\n", start);
      if (eol < 0) eol = head.length;
      const colon = head.indexOf(":", start);
      if (colon <= start || colon > eol) throw new ResponseParseError("malformed response header");
      const name = headerName(head.slice(start, colon));
      if (name === null) throw new ResponseParseError("malformed response header");
      const value = head.slice(colon + 1, eol).trim();
      const prior = map.get(name);
      map.set(name, prior === undefined ? value : `${prior}, ${value}`);
    }
    // 1xx: an interim answer; the real one follows. 101 would switch protocols: not ours.
    if (status < 200) {
      if (status === 101) throw new ResponseParseError("unexpected 101 Switching Protocols");
      return;
    }
    this.status = status;
    this.headers = new ResponseHeaders(map);
    const connection = map.get("connection");
    this.keepAlive = http11 && (connection === undefined || !tokens(connection).includes("close"));
    this.startBody(status, map);
  }

  private startBody(status: number, map: Map<string, string>): void {
    const te = map.get("transfer-encoding");
    const cl = map.get("content-length");
    if (status === 204 || status === 304) {
      this.state = "done";
    } else if (te !== undefined) {
      // Only chunked alone: a body in any other coding is not ours to decode.
      if (tokens(te).join() !== "chunked") throw new ResponseParseError(`unsupported transfer-encoding: ${te.slice(0, 40)}`);
      // Both framings at once is how responses are smuggled: read chunked, reuse nothing.
      if (cl !== undefined) this.keepAlive = false;
      this.state = "chunk-size";
    } else if (cl !== undefined) {
      // Repeated headers arrive joined ("5, 5"): equal values are one length, others a conflict.
      const values = cl.includes(",") ? new Set(cl.split(",").map((v) => v.trim())) : null;
      if (values !== null && values.size !== 1) throw new ResponseParseError("conflicting content-length");
      const v = values === null ? cl : [...values][0]!;
      if (!/^\d{1,15}$/.test(v)) throw new ResponseParseError("malformed content-length");
      const n = Number(v);
      if (n > this.limits.maxBodyBytes) throw new ResponseParseError(`response body over ${this.limits.maxBodyBytes} bytes`);
      this.body = new Uint8Array(n);
      this.state = n === 0 ? "done" : "length";
    } else {
      this.keepAlive = false;
      this.state = "until-close";
    }
  }

  private onChunkSize(line: string): void {
    const semi = line.indexOf(";");
    const hex = (semi < 0 ? line : line.slice(0, semi)).trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(hex)) throw new ResponseParseError("malformed chunk size");
    const size = parseInt(hex, 16);
    if (size === 0) {
      this.state = "trailers";
      return;
    }
    if (this.bodyLength + size > this.limits.maxBodyBytes) throw new ResponseParseError(`response body over ${this.limits.maxBodyBytes} bytes`);
    this.chunkLeft = size;
    this.state = "chunk-data";
  }

  private addPart(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.bodyLength += bytes.length;
    if (this.bodyLength > this.limits.maxBodyBytes) throw new ResponseParseError(`response body over ${this.limits.maxBodyBytes} bytes`);
    // Copied: the caller may reuse the buffer it pushed.
    this.parts.push(bytes.slice());
  }

  private finish(): ParsedResponse {
    let body = this.body;
    if (this.parts.length > 0) {
      body = new Uint8Array(this.bodyLength);
      let at = 0;
      for (const p of this.parts) {
        body.set(p, at);
        at += p.length;
      }
    }
    return { status: this.status, headers: this.headers, body, keepAlive: this.keepAlive };
  }
}

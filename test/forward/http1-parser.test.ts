import { describe, expect, test } from "bun:test";
import { ResponseParseError, ResponseParser, type ParsedResponse } from "../../src/forward/http1/parser.ts";
import { serializePost } from "../../src/forward/http1/request.ts";

const bytes = (s: string) => Buffer.from(s, "latin1");
const text = (b: Uint8Array) => Buffer.from(b).toString("latin1");

/** Feeds `input` cut at the given offsets; returns the response and which push completed it. */
function parseSplit(input: Uint8Array, cuts: number[], limits?: { maxHeadBytes: number; maxBodyBytes: number }): { res: ParsedResponse | null; parser: ResponseParser } {
  const parser = new ResponseParser(limits);
  let from = 0;
  let res: ParsedResponse | null = null;
  for (const cut of [...cuts, input.length]) {
    const got = parser.push(input.subarray(from, cut));
    if (got) {
      expect(res).toBeNull();
      res = got;
    }
    from = cut;
  }
  return { res, parser };
}

/** Every split in two, and byte by byte: the parser must give the same answer for all. */
function everySplit(raw: string, check: (res: ParsedResponse) => void): void {
  const input = bytes(raw);
  for (let i = 0; i <= input.length; i++) {
    const { res } = parseSplit(input, [i]);
    expect(res).not.toBeNull();
    check(res!);
  }
  const { res } = parseSplit(
    input,
    Array.from({ length: input.length }, (_, i) => i),
  );
  check(res!);
}

describe("HTTP/1.1 response parser", () => {
  test("status, case-insensitive headers and a Content-Length body, at every split", () => {
    const raw = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Sentry-Rate-Limits: 60:error:key\r\nContent-Length: 11\r\n\r\n{"id":"ab"}';
    everySplit(raw, (res) => {
      expect(res.status).toBe(200);
      expect(res.headers.get("x-sentry-rate-limits")).toBe("60:error:key");
      expect(res.headers.get("CONTENT-TYPE")).toBe("application/json");
      expect(res.headers.get("retry-after")).toBeNull();
      expect(text(res.body)).toBe('{"id":"ab"}');
      expect(res.keepAlive).toBe(true);
    });
  });

  test("a chunked body with extensions and trailers, at every split", () => {
    const raw = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n";
    everySplit(raw, (res) => {
      expect(res.status).toBe(429);
      expect(res.headers.get("Retry-After")).toBe("7");
      expect(text(res.body)).toBe("hello, world");
      expect(res.keepAlive).toBe(true);
    });
  });

  test("1xx answers are skipped; 204 has no body; repeated headers are joined as fetch joins them", () => {
    everySplit("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nX-A: 1\r\nx-a: 2\r\n\r\n", (res) => {
      expect(res.status).toBe(204);
      expect(res.headers.get("x-a")).toBe("1, 2");
      expect(res.body.length).toBe(0);
    });
  });

  test("Connection: close and HTTP/1.0 end the connection's reuse", () => {
    expect(parseSplit(bytes("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"), []).res!.keepAlive).toBe(false);
    expect(parseSplit(bytes("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"), []).res!.keepAlive).toBe(false);
  });

  test("a body without length is read until the connection closes", () => {
    const { res, parser } = parseSplit(bytes("HTTP/1.1 500 Internal Server Error\r\n\r\noops, "), []);
    expect(res).toBeNull();
    expect(parser.push(bytes("down"))).toBeNull();
    const done = parser.end();
    expect(done.status).toBe(500);
    expect(text(done.body)).toBe("oops, down");
    expect(done.keepAlive).toBe(false);
  });

  test("a connection closed mid-answer or before any is an error, and says which", () => {
    const p = new ResponseParser();
    expect(() => p.end()).toThrow("connection closed before any response");
    const q = new ResponseParser();
    q.push(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
    expect(q.started).toBe(true);
    expect(() => q.end()).toThrow("connection closed mid-response");
  });

  test("bytes after the response are counted, so the connection is not reused", () => {
    const p = new ResponseParser();
    const res = p.push(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200"));
    expect(text(res!.body)).toBe("ok");
    expect(p.extra).toBe(12);
  });

  const malformed: Array<[string, string]> = [
    ["not HTTP", "SSH-2.0-OpenSSH_9.6\r\n\r\n"],
    ["bad status", "HTTP/1.1 2000 OK\r\n\r\n"],
    ["HTTP/2 status line", "HTTP/2 200\r\n\r\n"],
    ["header without colon", "HTTP/1.1 200 OK\r\nbroken header\r\n\r\n"],
    ["folded header", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  continued\r\n\r\n"],
    ["bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"],
    ["bad content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n"],
    ["conflicting content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"],
    ["bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
    ["chunk without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n0\r\n\r\n"],
    ["unknown transfer-encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"],
    ["101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"],
    ["empty header name", "HTTP/1.1 200 OK\r\n: 1\r\n\r\n"],
    ["space before the colon", "HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n"],
    ["colon only on a later line", "HTTP/1.1 200 OK\r\nbroken\r\nX-A: 1\r\n\r\n"],
    ["too many headers", `HTTP/1.1 200 OK\r\n${"X-A: 1\r\n".repeat(256)}\r\n`],
  ];
  for (const [name, raw] of malformed) {
    test(`malformed: ${name} throws a ResponseParseError`, () => {
      expect(() => parseSplit(bytes(raw), [])).toThrow(ResponseParseError);
    });
  }

  test("a name is checked however often it comes: a bad one is refused every time, good spellings share one key", () => {
    for (let i = 0; i < 3; i++) expect(() => parseSplit(bytes("HTTP/1.1 200 OK\r\nX A: 1\r\n\r\n"), [])).toThrow(ResponseParseError);
    for (let i = 0; i < 2; i++) {
      const { res } = parseSplit(bytes("HTTP/1.1 200 OK\r\nX-Mixed-Case: 1\r\nx-mixed-case: 2\r\nX-MIXED-CASE: 3\r\nContent-Length: 0\r\n\r\n"), []);
      expect(res!.headers.get("x-Mixed-CASE")).toBe("1, 2, 3");
    }
    // 255 headers and the status line are allowed.
    const { res } = parseSplit(bytes(`HTTP/1.1 200 OK\r\n${"X-A: 1\r\n".repeat(254)}Content-Length: 0\r\n\r\n`), []);
    expect(res!.status).toBe(200);
  });

  test("bodies and heads over the bound are refused, declared or streamed", () => {
    const limits = { maxHeadBytes: 256, maxBodyBytes: 16 };
    expect(() => parseSplit(bytes("HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n"), [], limits)).toThrow("over 16 bytes");
    expect(() => parseSplit(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n"), [], limits)).toThrow("over 16 bytes");
    const untilClose = new ResponseParser(limits);
    untilClose.push(bytes("HTTP/1.1 200 OK\r\n\r\n0123456789"));
    expect(() => untilClose.push(bytes("0123456789"))).toThrow("over 16 bytes");
    expect(() => parseSplit(bytes(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(300)}\r\n\r\n`), [150], limits)).toThrow("too large");
  });
});

describe("POST serialisation", () => {
  test("request line, Host, the caller's headers, Content-Length, body; framing headers are the client's", () => {
    const body = bytes("{}");
    const out = text(
      serializePost({ host: "sentry.example:8443", path: "/api/1/store/?x=1" }, { "X-Sentry-Auth": "Sentry sentry_key=k", "content-length": "999", Host: "evil" }, body),
    );
    expect(out).toBe("POST /api/1/store/?x=1 HTTP/1.1\r\nhost: sentry.example:8443\r\nX-Sentry-Auth: Sentry sentry_key=k\r\ncontent-length: 2\r\n\r\n{}");
  });

  test("a header value or path that would split the request is refused", () => {
    const t = { host: "h", path: "/" };
    expect(() => serializePost(t, { "x-a": "1\r\nx-b: 2" }, new Uint8Array())).toThrow(TypeError);
    expect(() => serializePost(t, { "x a": "1" }, new Uint8Array())).toThrow(TypeError);
    expect(() => serializePost(t, { "x-a": "\u0100" }, new Uint8Array())).toThrow(TypeError);
    expect(() => serializePost({ host: "h", path: "/a b" }, {}, new Uint8Array())).toThrow(TypeError);
  });
});

import { describe, expect, test } from "bun:test";
import * as zlib from "node:zlib";
import { decodeContentEncoding, decodeSentryData, decodeStoreBody, parseEventJson, replaceNonFiniteTokens } from "../../src/protocol/body.ts";
import { fails } from "./fails.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const MiB = 1024 * 1024;
const LARGE = enc.encode(JSON.stringify(Array.from({ length: 20000 }, (_, i) => ({ i, m: `msg ${(i * 7919) % 1000}` }))));
const EVENT = enc.encode(JSON.stringify({ event_id: "0123456789abcdef0123456789abcdef", message: "hello" }));

describe("decodeContentEncoding", () => {
  test.each([
    ["gzip", zlib.gzipSync(EVENT)],
    ["x-gzip", zlib.gzipSync(EVENT)],
    ["GZIP", zlib.gzipSync(EVENT)],
    ["deflate", zlib.deflateSync(EVENT)],
    ["deflate", zlib.deflateRawSync(EVENT)],
    ["br", zlib.brotliCompressSync(EVENT)],
    ["zstd", zlib.zstdCompressSync(EVENT)],
    ["identity", EVENT],
    ["", EVENT],
    ["UTF-8", EVENT],
    [" gzip ", zlib.gzipSync(EVENT)],
    ["deflate, gzip", zlib.gzipSync(zlib.deflateSync(EVENT))],
    ["gzip, identity, br", zlib.brotliCompressSync(zlib.gzipSync(EVENT))],
  ])("%s", (encoding, body) => {
    expect(dec.decode(decodeContentEncoding(new Uint8Array(body), encoding, MiB))).toBe(dec.decode(EVENT));
  });

  test("null encoding returns the very same bytes", () => {
    expect(decodeContentEncoding(EVENT, null, MiB)).toBe(EVENT);
  });

  test("concatenated gzip members are all inflated", () => {
    const two = Buffer.concat([zlib.gzipSync(enc.encode("ab")), zlib.gzipSync(enc.encode("cd"))]);
    expect(dec.decode(decodeContentEncoding(two, "gzip", MiB))).toBe("abcd");
  });

  test("unknown encoding → 415", () => {
    expect(fails(() => decodeContentEncoding(EVENT, "compress", MiB))).toMatchObject({ status: 415, detail: "unsupported content encoding" });
    expect(fails(() => decodeContentEncoding(EVENT, "gzip, lzma", MiB)).status).toBe(415);
  });

  test.each([
    ["truncated gzip", "gzip", zlib.gzipSync(EVENT).subarray(0, 20), "failed to decode gzip payload"],
    ["gzip without trailer", "gzip", zlib.gzipSync(EVENT).subarray(0, -8), "failed to decode gzip payload"],
    ["gzip with a flipped byte", "gzip", flip(zlib.gzipSync(EVENT), 15), "failed to decode gzip payload"],
    ["plain JSON labelled gzip", "gzip", EVENT, "failed to decode gzip payload"],
    ["truncated zlib", "deflate", zlib.deflateSync(EVENT).subarray(0, 10), "failed to decode zlib payload"],
    ["zlib with bad checksum", "deflate", flip(zlib.deflateSync(EVENT), -1), "failed to decode zlib payload"],
    ["garbage deflate", "deflate", new Uint8Array([0xff, 0xff, 0xff, 0xff]), "failed to decode deflate payload"],
    ["garbage br", "br", new Uint8Array([0xff, 0x00, 0x12, 0x34, 0x56]), "failed to decode brotli payload"],
    ["truncated zstd", "zstd", zlib.zstdCompressSync(EVENT).subarray(0, 12), "failed to decode zstd payload"],
    ["zstd cut in the middle", "zstd", zlib.zstdCompressSync(LARGE).subarray(0, 3000), "failed to decode zstd payload"],
    ["garbage zstd", "zstd", new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), "failed to decode zstd payload"],
  ])("%s → 400 with causes", (_name, encoding, body, cause) => {
    const err = fails(() => decodeContentEncoding(new Uint8Array(body), encoding, MiB));
    expect(err.status).toBe(400);
    expect(err.detail).toBe("failed to read request body");
    expect(err.causes[0]).toBe(cause);
    expect(err.causes.length).toBe(2);
  });

  test("empty body stays empty whatever the encoding", () => {
    expect(decodeContentEncoding(new Uint8Array(0), "gzip", MiB).length).toBe(0);
  });

  test("10 MB-of-zeros bombs stop at the cap → 413, every encoding", () => {
    const zeros = new Uint8Array(10 * MiB);
    for (const [encoding, body] of [
      ["gzip", zlib.gzipSync(zeros)],
      ["deflate", zlib.deflateSync(zeros)],
      ["deflate", zlib.deflateRawSync(zeros)],
      ["br", zlib.brotliCompressSync(zeros)],
      ["zstd", zlib.zstdCompressSync(zeros)],
    ] as const) {
      expect(body.length).toBeLessThan(64 * 1024);
      expect(fails(() => decodeContentEncoding(new Uint8Array(body), encoding, MiB))).toMatchObject({
        status: 413,
        detail: "request body too large",
      });
    }
  });

  test("a 1 GiB bomb is refused without inflating it (memory stays flat)", () => {
    // 64 gzip members of 16 MiB zeros: one valid 1 GiB stream, built without a 1 GiB buffer.
    const member = zlib.gzipSync(new Uint8Array(16 * MiB), { level: 9 });
    const bomb = Buffer.concat(Array.from({ length: 64 }, () => member));
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 5; i++) expect(fails(() => decodeContentEncoding(bomb, "gzip", MiB)).status).toBe(413);
    Bun.gc(true);
    // Inflating even once would need 1 GiB; the cap keeps each attempt near 1 MiB.
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * MiB);
  });

  test("output exactly at the cap passes, one byte over fails; identity is capped too", () => {
    const body = new Uint8Array(1000).fill(0x61);
    expect(decodeContentEncoding(zlib.gzipSync(body), "gzip", 1000).length).toBe(1000);
    expect(fails(() => decodeContentEncoding(zlib.gzipSync(body), "gzip", 999)).status).toBe(413);
    expect(fails(() => decodeContentEncoding(body, null, 999)).status).toBe(413);
  });
});

function flip(buf: Uint8Array, index: number): Uint8Array {
  const copy = new Uint8Array(buf);
  const i = index < 0 ? copy.length + index : index;
  copy[i] = copy[i]! ^ 0xff;
  return copy;
}

describe("decodeStoreBody", () => {
  const b64 = (b: Uint8Array) => enc.encode(Buffer.from(b).toString("base64"));

  test("JSON passes through untouched, leading whitespace allowed", () => {
    expect(decodeStoreBody(EVENT, MiB)).toBe(EVENT);
    const spaced = enc.encode(" \r\n\t{}");
    expect(decodeStoreBody(spaced, MiB)).toBe(spaced);
  });

  test("base64(JSON) and base64(zlib(JSON)) (raven-node, raven-python)", () => {
    expect(dec.decode(decodeStoreBody(b64(EVENT), MiB))).toBe(dec.decode(EVENT));
    expect(dec.decode(decodeStoreBody(b64(zlib.deflateSync(EVENT)), MiB))).toBe(dec.decode(EVENT));
    const withNewline = enc.encode(Buffer.from(zlib.deflateSync(EVENT)).toString("base64") + "\n");
    expect(dec.decode(decodeStoreBody(withNewline, MiB))).toBe(dec.decode(EVENT));
  });

  test("empty body is returned as is", () => {
    expect(decodeStoreBody(new Uint8Array(0), MiB).length).toBe(0);
  });

  test.each([
    ["not base64", enc.encode("hello world"), "invalid base64 data"],
    ["bad padding length", enc.encode("eJw"), "invalid base64 data"],
    ["url-safe alphabet", enc.encode("eJ-_"), "invalid base64 data"],
    ["'=' inside", enc.encode("eJ==eJ=="), "invalid base64 data"],
    ["base64 of garbage", b64(new Uint8Array([1, 2, 3, 4, 5, 6])), "failed to decode zlib payload"],
    ["base64 of truncated zlib", b64(zlib.deflateSync(EVENT).subarray(0, 12)), "failed to decode zlib payload"],
    ["base64 of gzip (raven sends zlib)", b64(zlib.gzipSync(EVENT)), "failed to decode zlib payload"],
  ])("%s → 400", (_name, body, cause) => {
    const err = fails(() => decodeStoreBody(body, MiB));
    expect(err).toMatchObject({ status: 400, detail: "failed to read request body" });
    expect(err.causes[0]).toBe(cause);
  });

  test("base64 zlib bomb → 413", () => {
    const bomb = b64(zlib.deflateSync(new Uint8Array(10 * MiB)));
    expect(fails(() => decodeStoreBody(bomb, MiB)).status).toBe(413);
  });

  test("real raven-node store body", async () => {
    const wire = await Bun.file(`${import.meta.dir}/../fixtures/payloads/raven-node-exception.a.wire.json`).json();
    const event = parseEventJson(decodeStoreBody(enc.encode(wire.body), MiB), "raven-node/2.6.4");
    expect(Array.isArray(event.exception)).toBe(true);
  });
});

describe("decodeSentryData", () => {
  test("JSON, base64 and base64+zlib; '+' turned into ' ' by form decoding is repaired", () => {
    expect(dec.decode(decodeSentryData('{"message":"a b+c"}', MiB))).toBe('{"message":"a b+c"}');
    const z = Buffer.from(zlib.deflateSync(EVENT)).toString("base64");
    expect(dec.decode(decodeSentryData(z, MiB))).toBe(dec.decode(EVENT));
    expect(dec.decode(decodeSentryData(z.replaceAll("+", " "), MiB))).toBe(dec.decode(EVENT));
    expect(dec.decode(decodeSentryData(Buffer.from(EVENT).toString("base64"), MiB))).toBe(dec.decode(EVENT));
  });

  test("errors", () => {
    expect(fails(() => decodeSentryData("not json!", MiB)).status).toBe(400);
    expect(fails(() => decodeSentryData(`{"m":"${"x".repeat(100)}"}`, 50)).status).toBe(413);
  });
});

describe("parseEventJson", () => {
  test("object", () => {
    expect(parseEventJson(EVENT, null)).toEqual({ event_id: "0123456789abcdef0123456789abcdef", message: "hello" });
  });

  test.each([
    ["empty", "", 400, "empty request body"],
    ["whitespace", "  ", 400, "invalid JSON data"],
    ["array", "[1,2]", 400, "invalid JSON data"],
    ["null", "null", 400, "invalid JSON data"],
    ["string", '"x"', 400, "invalid JSON data"],
    ["truncated", '{"a":', 400, "invalid JSON data"],
    ["trailing garbage", '{"a":1} x', 400, "invalid JSON data"],
    ["NaN from a non-python client", '{"a":NaN}', 400, "invalid JSON data"],
  ])("%s → %d %s", (_name, body, status, detail) => {
    expect(fails(() => parseEventJson(enc.encode(body), "sentry.javascript.node/11.12.0"))).toMatchObject({ status, detail });
  });

  test("invalid UTF-8 → invalid JSON data", () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]);
    expect(fails(() => parseEventJson(bytes, null))).toMatchObject({ status: 400, detail: "invalid JSON data" });
  });

  test("NaN/Infinity from python clients become null, strings untouched", async () => {
    const body = new Uint8Array(await Bun.file(`${import.meta.dir}/../fixtures/payloads/raven-python-nan.body`).arrayBuffer());
    for (const client of ["raven-python/5.32.0", "sentry-python/0.1", "sentry.python/1.9.10"]) {
      const event = parseEventJson(body, client);
      expect(event.extra).toEqual({ ratio: null, limit: null, floor: null, label: "NaN and Infinity in a string" });
    }
    expect(fails(() => parseEventJson(body, "raven-js/3.27.2")).status).toBe(400);
    expect(fails(() => parseEventJson(body, null)).status).toBe(400);
  });

  test("replaceNonFiniteTokens respects escapes inside strings", () => {
    expect(replaceNonFiniteTokens('{"a":"\\"NaN","b":NaN,"c":[Infinity,-Infinity]}')).toBe('{"a":"\\"NaN","b":null,"c":[null,null]}');
    expect(replaceNonFiniteTokens('{"a":1}')).toBe('{"a":1}');
  });
});

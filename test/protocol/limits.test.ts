/** Issue 18's bounds in src/protocol, on bytes: JSON depth, event ids, fingerprints, inflation off the loop. */
import { describe, expect, test } from "bun:test";
import * as zlib from "node:zlib";
import { decodeContentEncodingBounded, INFLATE_SLOTS, inflationsInFlight, SYNC_OUTPUT_BYTES } from "../../src/protocol/content-encoding.ts";
import { MAX_ENVELOPE_ITEMS, parseEnvelope, parseEventItem } from "../../src/protocol/envelope.ts";
import { newEventId, storeEventId, withEventId } from "../../src/protocol/event-id.ts";
import { groupingHash, MAX_FINGERPRINT_ENTRIES } from "../../src/protocol/grouping.ts";
import { jsonDeeperThan, MAX_JSON_DEPTH } from "../../src/protocol/json-depth.ts";
import { ProtocolError } from "../../src/protocol/errors.ts";
import { fails } from "./fails.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const nest = (n: number) => "[".repeat(n) + "]".repeat(n);

describe("jsonDeeperThan", () => {
  test("counts arrays and objects, up to and past the limit", () => {
    expect(jsonDeeperThan(nest(MAX_JSON_DEPTH))).toBe(false);
    expect(jsonDeeperThan(nest(MAX_JSON_DEPTH + 1))).toBe(true);
    expect(jsonDeeperThan(`{"a":${nest(MAX_JSON_DEPTH - 1)}}`)).toBe(false);
    expect(jsonDeeperThan(`{"a":${nest(MAX_JSON_DEPTH)}}`)).toBe(true);
    expect(jsonDeeperThan('{"a":{"b":{"c":[1,{"d":2}]}}}', 5)).toBe(false);
    expect(jsonDeeperThan('{"a":{"b":{"c":[1,{"d":2}]}}}', 4)).toBe(true);
  });

  test("brackets inside strings, escaped quotes included, do not count", () => {
    expect(jsonDeeperThan(JSON.stringify({ s: "[{".repeat(1000) }))).toBe(false);
    expect(jsonDeeperThan(JSON.stringify({ s: '\\"[[[' + "[".repeat(500) }))).toBe(false);
    expect(jsonDeeperThan(`["\\\\",${nest(MAX_JSON_DEPTH)}]`)).toBe(true);
  });

  test("many shallow brackets are not depth", () => {
    expect(jsonDeeperThan(JSON.stringify(Array.from({ length: 5000 }, (_, i) => ({ i, a: [i] }))))).toBe(false);
  });
});

describe("event ids", () => {
  test("storeEventId: normalized, null when absent, Relay's 400 otherwise", () => {
    expect(storeEventId({ event_id: "01234567-89AB-CDEF-0123-456789ABCDEF" })).toBe("0123456789abcdef0123456789abcdef");
    expect(storeEventId({})).toBeNull();
    expect(storeEventId({ event_id: null })).toBeNull();
    expect(fails(() => storeEventId({ event_id: "123" }))).toEqual({ status: 400, detail: "invalid JSON data", causes: ["UUID parsing failed: invalid UUID"] });
    expect(fails(() => storeEventId({ event_id: 123 })).causes).toEqual(["invalid type: integer `123`, expected a UUID string"]);
    expect(fails(() => storeEventId({ event_id: true })).causes).toEqual(["invalid type: boolean `true`, expected a UUID string"]);
    expect(fails(() => storeEventId({ event_id: {} })).causes).toEqual(["invalid type: map, expected a UUID string"]);
  });

  test("withEventId writes the id into the body and keeps the rest byte for byte", () => {
    const id = newEventId();
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const body = ' {"message":"x","extra":{"n":1}}';
    const out = dec.decode(withEventId(enc.encode(body), JSON.parse(body), id));
    expect(out).toBe(` {"event_id":"${id}","message":"x","extra":{"n":1}}`);
    expect(JSON.parse(dec.decode(withEventId(enc.encode("{ }"), {}, id)))).toEqual({ event_id: id });
    // An explicit null would be a duplicate field to serde: replaced, not added.
    const withNull = dec.decode(withEventId(enc.encode('{"event_id":null,"m":1}'), { event_id: null, m: 1 }, id));
    expect(JSON.parse(withNull)).toEqual({ event_id: id, m: 1 });
    expect(withNull.split("event_id").length).toBe(2);
  });
});

describe("fingerprint handling", () => {
  test("entries as Relay reads them: numbers and booleans count, nested values void the fingerprint", () => {
    const base = { message: "m" };
    expect(groupingHash({ ...base, fingerprint: [1] })).toBe(groupingHash({ ...base, fingerprint: ["1"] }));
    expect(groupingHash({ ...base, fingerprint: [1.0] })).toBe(groupingHash({ ...base, fingerprint: ["1"] }));
    expect(groupingHash({ ...base, fingerprint: [true] })).toBe(groupingHash({ ...base, fingerprint: ["True"] }));
    expect(groupingHash({ ...base, fingerprint: ["a", { x: 1 }] })).toBe(groupingHash(base));
    expect(groupingHash({ ...base, fingerprint: [null] })).toBe(groupingHash(base));
  });

  test("a 100,000-deep entry does not recurse", () => {
    const event = JSON.parse(`{"fingerprint":[${nest(100_000)}]}`) as Record<string, unknown>;
    expect(Number.isSafeInteger(groupingHash(event))).toBe(true);
  });

  test("entries past MAX_FINGERPRINT_ENTRIES are not read, but their count still tells apart", () => {
    const many = (n: number, last = "x") => [...Array.from({ length: n - 1 }, (_, i) => `e${i}`), last];
    const n = MAX_FINGERPRINT_ENTRIES + 10;
    expect(groupingHash({ fingerprint: many(n, "a") })).toBe(groupingHash({ fingerprint: many(n, "b") }));
    expect(groupingHash({ fingerprint: many(n) })).not.toBe(groupingHash({ fingerprint: many(n + 1) }));
  });
});

describe("envelope bounds", () => {
  test(`more than ${MAX_ENVELOPE_ITEMS} items → 400`, () => {
    const items = (n: number) => enc.encode(`{}\n${'{"type":"x","length":0}\n\n'.repeat(n)}`);
    expect(parseEnvelope(items(MAX_ENVELOPE_ITEMS)).items.length).toBe(MAX_ENVELOPE_ITEMS);
    expect(fails(() => parseEnvelope(items(MAX_ENVELOPE_ITEMS + 1)))).toMatchObject({ status: 400, detail: "invalid event envelope" });
  });

  test("parseEventItem: size, depth and shape", () => {
    const item = (payload: string) => ({ headers: {}, type: "event", payload: enc.encode(payload) });
    expect(parseEventItem(item('{"a":1}'), 100)).toEqual({ a: 1 });
    expect(fails(() => parseEventItem(item('{"a":1}'), 6)).status).toBe(413);
    expect(fails(() => parseEventItem(item(`{"a":${nest(200)}}`), 1e6))).toEqual({
      status: 400,
      detail: "invalid event envelope",
      causes: ["recursion limit exceeded"],
    });
    expect(fails(() => parseEventItem(item("[]"), 100)).status).toBe(400);
    expect(fails(() => parseEventItem(item("{"), 100)).status).toBe(400);
  });
});

describe("decodeContentEncodingBounded", () => {
  const payload = (n: number) => new Uint8Array(n).fill(0x61);

  test("small bodies inflate at once, with no promise", () => {
    const out = decodeContentEncodingBounded(zlib.gzipSync(payload(1000)), "gzip", 1 << 20);
    expect(out).toBeInstanceOf(Uint8Array);
    expect((out as Uint8Array).length).toBe(1000);
  });

  test.each(["gzip", "deflate", "br", "zstd"])("%s past SYNC_OUTPUT_BYTES inflates in the thread pool, capped", async (encoding) => {
    const compress = { gzip: zlib.gzipSync, deflate: zlib.deflateSync, br: zlib.brotliCompressSync, zstd: zlib.zstdCompressSync }[encoding]!;
    const body = compress(payload(SYNC_OUTPUT_BYTES * 4));
    const out = decodeContentEncodingBounded(body, encoding, SYNC_OUTPUT_BYTES * 8);
    expect(out).toBeInstanceOf(Promise);
    expect((await out).length).toBe(SYNC_OUTPUT_BYTES * 4);
    const capped = decodeContentEncodingBounded(body, encoding, SYNC_OUTPUT_BYTES * 2);
    const err = await Promise.resolve(capped).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).status).toBe(413);
  });

  test(`at most ${INFLATE_SLOTS} inflations in the thread pool at once; the rest wait and all finish`, async () => {
    const bomb = zlib.gzipSync(payload(8 * 1024 * 1024));
    const body = zlib.gzipSync(payload(SYNC_OUTPUT_BYTES * 2));
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, inflationsInFlight())), 0);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        Promise.resolve(decodeContentEncodingBounded(i % 2 === 0 ? bomb : body, "gzip", 4 * 1024 * 1024)).then(
          (out) => out.length,
          (e: unknown) => (e as ProtocolError).status,
        ),
      ),
    );
    clearInterval(watch);
    expect(results).toEqual([413, SYNC_OUTPUT_BYTES * 2, 413, SYNC_OUTPUT_BYTES * 2, 413, SYNC_OUTPUT_BYTES * 2, 413, SYNC_OUTPUT_BYTES * 2]);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(INFLATE_SLOTS);
    expect(inflationsInFlight()).toBe(0);
  });

  test("two layers go to the thread pool; corrupt input rejects with a 400", async () => {
    const two = zlib.brotliCompressSync(zlib.gzipSync(payload(5000)));
    expect((await decodeContentEncodingBounded(two, "gzip, br", 1 << 20)).length).toBe(5000);
    const truncated = zlib.gzipSync(payload(SYNC_OUTPUT_BYTES * 4)).subarray(0, 200);
    const err = await Promise.resolve()
      .then(() => decodeContentEncodingBounded(truncated, "gzip", 1 << 24))
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect((err as ProtocolError).status).toBe(400);
  });
});

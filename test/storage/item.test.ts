import { describe, expect, test } from "bun:test";
import { decodeItem, encodeItem, headPrefixCount, MAX_HEAD_PREFIXES } from "../../src/storage/item.ts";
import { newItem } from "../contracts/queue.contract.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const header = (bytes: Uint8Array) => JSON.parse(text(bytes.subarray(0, bytes.indexOf(10)))) as unknown[];

describe("queued item encoding", () => {
  const body = JSON.stringify({ message: "x".repeat(2000), tags: { a: "ünïcödé" } });

  test.each([false, true])("compress=%p: decodes to exactly what was encoded", (compress) => {
    const item = newItem(42, body, { clientIp: '203.0.113.7, "quoted"', eventId: null });
    const back = decodeItem("7", encodeItem({ ...item, attempts: 3 }, undefined, compress));
    expect(back).toMatchObject({
      id: "7",
      projectId: 42,
      endpoint: "store",
      auth: item.auth,
      clientIp: item.clientIp,
      contentType: item.contentType,
      eventId: null,
      receivedAt: item.receivedAt,
      attempts: 3,
    });
    expect(text(back.body)).toBe(body);
  });

  test("compressed items are layout 2 and smaller; plain ones stay layout 1, which earlier versions read", () => {
    const item = newItem(1, body);
    const plain = encodeItem(item);
    const compressed = encodeItem(item, undefined, true);
    expect(header(plain)[0]).toBe(1);
    expect(header(compressed)[0]).toBe(2);
    expect(compressed.byteLength).toBeLessThan(plain.byteLength / 2);
    // The cached metadata prefix of one credentials object serves both layouts correctly.
    expect(header(encodeItem(item))[0]).toBe(1);
  });

  test("the remembered metadata prefixes stay within their bound, and an evicted one is built again right", () => {
    const items = Array.from({ length: MAX_HEAD_PREFIXES + 10 }, (_, i) =>
      newItem(i + 1, "{}", { auth: { publicKey: i.toString(16).padStart(32, "0"), secretKey: null, client: "c", version: 7 } }),
    );
    for (const item of items) encodeItem(item);
    expect(headPrefixCount()).toBe(MAX_HEAD_PREFIXES);
    const first = decodeItem("1", encodeItem(items[0]!));
    expect(first.projectId).toBe(1);
    expect(first.auth).toEqual(items[0]!.auth);
    expect(headPrefixCount()).toBe(MAX_HEAD_PREFIXES);
  });

  test("an unknown layout or a missing header line is refused, not forwarded", () => {
    const bytes = new TextEncoder().encode(`[3,1,"store"]\n{}`);
    expect(() => decodeItem("1", bytes)).toThrow("unknown layout");
    expect(() => decodeItem("1", new TextEncoder().encode("{}"))).toThrow("no header line");
  });
});

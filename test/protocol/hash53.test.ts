import { describe, expect, test } from "bun:test";
import { Hash53, hash53 } from "../../src/protocol/hash53.ts";

describe("Hash53", () => {
  test("pieces hash as their concatenation, wherever the text is split", () => {
    const text = "KeyError\u0001shop.views.checkout\u0001post\u0002ünïcødé 🎉\u0003";
    const whole = hash53(text, 42);
    for (let cut = 0; cut <= text.length; cut++) {
      const h = new Hash53().reset(42);
      h.text(text.slice(0, cut));
      h.text(text.slice(cut));
      expect(h.value()).toBe(whole);
    }
    const byChar = new Hash53().reset(42);
    for (let i = 0; i < text.length; i++) byChar.char(text.charCodeAt(i));
    expect(byChar.value()).toBe(whole);
  });

  test("values are safe integers, and 200,000 distinct keys do not collide", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200_000; i++) {
      const v = hash53(`TypeError\u0001app.js\u0001handler_${i}`, 7);
      expect(Number.isSafeInteger(v) && v >= 0).toBe(true);
      seen.add(v);
    }
    // At 53 bits the expected number of collisions among 200,000 keys is about 2 in a million.
    expect(seen.size).toBe(200_000);
  });

  test("the seed keeps projects apart, its high half too (sentry.io project ids pass 2^32)", () => {
    const key = "eKeyError\u0001";
    expect(hash53(key, 1)).not.toBe(hash53(key, 2));
    expect(hash53(key, 4505123456789504)).not.toBe(hash53(key, 4505123456789504 + 2 ** 32));
    expect(hash53(key, 0)).not.toBe(hash53(key, 2 ** 32));
    expect(hash53(key, 5)).toBe(hash53(key, 5));
  });

  test("an empty key and a key of one separator differ", () => {
    const sep = new Hash53().reset(0);
    sep.char(1);
    expect(hash53("", 0)).not.toBe(sep.value());
  });
});

import { describe, expect, test } from "bun:test";
import { accepted } from "../../src/server/responses.ts";

describe("accepted answers carry the original's X-CYCLOPS headers at every cache count", () => {
  const headersOf = (r: Response) => Object.fromEntries(r.headers.entries());

  for (const count of [0, 1, 256, 257, 40_000]) {
    test(`count ${count}`, async () => {
      const json = accepted("a".repeat(32), "IGNORED", count, false);
      expect(json.headers.get("x-cyclops-cache-count")).toBe(String(count));
      expect(json.headers.get("x-cyclops-status")).toBe("IGNORED");
      expect(json.headers.get("content-type")).toBe("application/json");
      expect(json.headers.get("access-control-allow-origin")).toBe("*");
      expect(await json.text()).toBe(`{"id":"${"a".repeat(32)}"}`);
      const gif = accepted(null, "PROCESSED", count, true);
      expect(gif.headers.get("content-type")).toBe("image/gif");
      expect(gif.headers.get("x-cyclops-status")).toBe("PROCESSED");
      expect(gif.headers.get("x-cyclops-cache-count")).toBe(String(count));
    });
  }

  test("a long flood's answer does not change the cached answer of other counts", () => {
    accepted(null, "IGNORED", 5_000, false);
    expect(headersOf(accepted(null, "IGNORED", 0, false))["x-cyclops-cache-count"]).toBe("0");
  });
});

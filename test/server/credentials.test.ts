import { describe, expect, test } from "bun:test";
import { CredentialCache } from "../../src/server/credentials.ts";

const header = (i: number) => `Sentry sentry_version=7, sentry_client=test/1.0, sentry_key=${i.toString(16).padStart(32, "0")}`;

describe("CredentialCache", () => {
  test("the same header text gives the same parsed object (storage reuses its encoding by it)", () => {
    const cache = new CredentialCache();
    const a = cache.of(header(1), null, "");
    expect(a?.publicKey).toBe(header(1).slice(-32));
    expect(cache.of(header(1), null, "")).toBe(a);
  });

  test("more projects than the old bound of 4,096 all stay cached", () => {
    const cache = new CredentialCache();
    const first = Array.from({ length: 5000 }, (_, i) => cache.of(header(i), null, ""));
    for (let i = 0; i < 5000; i++) expect(cache.of(header(i), null, "")).toBe(first[i]!);
    expect(cache.size).toBe(5000);
  });

  test("past its bound the oldest entry goes, not the whole cache", () => {
    const cache = new CredentialCache(3);
    const a = [0, 1, 2].map((i) => cache.of(header(i), null, ""));
    cache.of(header(3), null, "");
    expect(cache.size).toBe(3);
    expect(cache.of(header(1), null, "")).toBe(a[1]!);
    expect(cache.of(header(2), null, "")).toBe(a[2]!);
    expect(cache.of(header(0), null, "")).not.toBe(a[0]!); // parsed again
  });

  test("credentials in the query are parsed each time, never cached", () => {
    const cache = new CredentialCache();
    const q = `sentry_key=${"a".repeat(32)}&sentry_version=7`;
    expect(cache.of(null, null, q)?.publicKey).toBe("a".repeat(32));
    expect(cache.size).toBe(0);
  });
});

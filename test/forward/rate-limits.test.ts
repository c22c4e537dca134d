import { describe, expect, test } from "bun:test";
import { RateLimits, limitsFromResponse, parseRateLimits, parseRetryAfter } from "../../src/forward/rate-limits.ts";

describe("X-Sentry-Rate-Limits parsing", () => {
  test("the documented example", () => {
    expect(parseRateLimits("60:transaction:key, 2700:default;error;security:organization:quota_exceeded")).toEqual([
      { retryAfter: 60, categories: ["transaction"], scope: "key", reason: null },
      { retryAfter: 2700, categories: ["default", "error", "security"], scope: "organization", reason: "quota_exceeded" },
    ]);
  });

  test("empty categories mean all; floats, extra fields and namespaces are accepted; junk is skipped", () => {
    expect(parseRateLimits("10::organization")).toEqual([{ retryAfter: 10, categories: [], scope: "organization", reason: null }]);
    expect(parseRateLimits("1.5:metric_bucket:organization:quota:custom:extra")).toEqual([
      { retryAfter: 1.5, categories: ["metric_bucket"], scope: "organization", reason: "quota" },
    ]);
    expect(parseRateLimits("nonsense, ,-5:error:key,30:error:key")).toEqual([{ retryAfter: 30, categories: ["error"], scope: "key", reason: null }]);
    expect(parseRateLimits("")).toEqual([]);
    expect(parseRateLimits(null)).toEqual([]);
  });
});

describe("Retry-After", () => {
  const now = Date.parse("2024-05-01T12:00:00Z");
  test("seconds, HTTP-date, absent or invalid", () => {
    expect(parseRetryAfter("120", now)).toBe(120);
    expect(parseRetryAfter("Wed, 01 May 2024 12:00:30 GMT", now)).toBe(30);
    expect(parseRetryAfter("Wed, 01 May 2024 11:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBe(60);
    expect(parseRetryAfter("soon", now)).toBe(60);
  });

  test("what a response imposes: the header wins, else Retry-After on 429, else 60 s", () => {
    expect(limitsFromResponse(429, new Headers({ "retry-after": "7" }), now)).toEqual([{ retryAfter: 7, categories: [], scope: "key", reason: null }]);
    expect(limitsFromResponse(429, new Headers(), now)[0]!.retryAfter).toBe(60);
    expect(limitsFromResponse(429, new Headers({ "retry-after": "7", "x-sentry-rate-limits": "3:error:key" }), now)).toEqual([
      { retryAfter: 3, categories: ["error"], scope: "key", reason: null },
    ]);
    expect(limitsFromResponse(200, new Headers({ "x-sentry-rate-limits": "9::key" }), now)[0]!.retryAfter).toBe(9);
    expect(limitsFromResponse(200, new Headers({ "retry-after": "9" }), now)).toEqual([]);
  });
});

describe("RateLimits", () => {
  test("per project and category; empty categories cover all; the max expiry is kept", () => {
    const r = new RateLimits();
    const t = 1_000_000;
    r.apply(1, parseRateLimits("60:transaction:key"), t);
    r.apply(1, parseRateLimits("10:transaction:key"), t); // shorter: ignored
    expect(r.until(1, "transaction", t)).toBe(t + 60_000);
    expect(r.until(1, "error", t)).toBe(0);
    expect(r.until(2, "transaction", t)).toBe(0);
    r.apply(1, parseRateLimits("5::organization:quota"), t);
    expect(r.until(1, "error", t)).toBe(t + 5_000);
    expect(r.until(1, "transaction", t)).toBe(t + 60_000);
  });

  test("rateLimitFor answers what ingest passes back to SDKs, and expires", () => {
    const r = new RateLimits();
    const t = 5_000_000;
    expect(r.apply(3, parseRateLimits("30:error;default:project:quota_exceeded, 2:transaction:key"), t)).toBe(t + 30_000);
    const a = r.rateLimitFor(3, "error", t + 500)!;
    expect(a.retryAfter).toBe(30);
    expect(a.header).toBe("30:error:project:quota_exceeded, 30:default:project:quota_exceeded, 2:transaction:key");
    expect(r.rateLimitFor(3, "session", t)).toBeNull();
    expect(r.rateLimitFor(3, "transaction", t + 2_000)).toBeNull();
    expect(r.rateLimitFor(3, "error", t + 2_000)!.header).toBe("28:error:project:quota_exceeded, 28:default:project:quota_exceeded");
    expect(r.activeProjects(t + 2_000)).toBe(1);
    expect(r.rateLimitFor(3, "error", t + 30_000)).toBeNull();
    expect(r.activeProjects(t + 30_000)).toBe(0);
  });
});

/**
 * The sentry-api source against a fake Sentry web API on a real socket: the KeySource contract,
 * cursor pagination of both lists, key filtering, and every failure a load can meet (token
 * rejected, rate limited, 5xx, unknown organization), with messages that never hold the token.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { nextCursor, retryAfterMs, SentryApiKeySource } from "../../src/keys/sentry-api.ts";
import { hexKey, runKeySourceContract } from "../contracts/key-source.contract.ts";
import { FakeSentryApi, type FakeSentryApiOptions } from "../helpers/fake-sentry-api.ts";

const servers: FakeSentryApi[] = [];
function fake(options?: FakeSentryApiOptions): FakeSentryApi {
  const api = new FakeSentryApi(options);
  servers.push(api);
  return api;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

function sourceFor(api: FakeSentryApi, token = api.token): SentryApiKeySource {
  return new SentryApiKeySource({ baseUrl: api.url, org: api.org, token: () => token, requestTimeoutMs: 5000 });
}

const keyOf = (projectId: number, extra: { active?: boolean; store?: boolean; useCase?: string } = {}) => ({
  projectId,
  publicKey: hexKey(),
  secretKey: hexKey(),
  ...extra,
});

describe("sentry-api key source contract", () => {
  // Page size 2 so the contract's keys and projects span several pages.
  runKeySourceContract("sentry-api", async (seed) => {
    const api = new FakeSentryApi({ pageSize: 2 });
    for (const k of seed) api.addKey(k);
    return {
      source: sourceFor(api),
      hasStatus: true,
      hasRoles: true,
      add: async (k) => api.addKey(k),
      disable: async (publicKey) => api.setActive(publicKey, false),
      cleanup: () => api.stop(),
    };
  });
});

describe("sentry-api requests", () => {
  test("follows cursors through every page of projects and keys, with the Bearer token", async () => {
    const api = fake({ pageSize: 2 });
    const expected: string[] = [];
    for (let p = 1; p <= 5; p++) {
      for (let i = 0; i < 3; i++) {
        const k = keyOf(p);
        api.addKey(k);
        expected.push(k.publicKey);
      }
    }
    const keys = await sourceFor(api).load();
    expect(keys.map((k) => k.publicKey).sort()).toEqual(expected.sort());
    const projectPages = api.requests.filter((r) => r.path.endsWith("/projects/"));
    expect(projectPages.map((r) => new URLSearchParams(r.search).get("cursor"))).toEqual([null, "0:2:0", "0:4:0"]);
    const keyPages = api.requests.filter((r) => r.path === "/api/0/projects/acme/project-3/keys/");
    expect(keyPages.map((r) => new URLSearchParams(r.search).get("cursor"))).toEqual([null, "0:2:0"]);
    expect(keyPages.every((r) => new URLSearchParams(r.search).get("status") === "active")).toBe(true);
    expect(api.requests.every((r) => r.authorization === `Bearer ${api.token}`)).toBe(true);
  });

  test("uses the cursor, not the host, of Link URLs (Sentry behind a proxy names itself)", async () => {
    const api = fake({ pageSize: 1, linkOrigin: "http://sentry-internal.invalid:9000" });
    const a = keyOf(1);
    const b = keyOf(1);
    api.addKey(a);
    api.addKey(b);
    expect((await sourceFor(api).load()).map((k) => k.publicKey).sort()).toEqual([a.publicKey, b.publicKey].sort());
  });

  test("keeps only active store keys of use case user, whatever the server lists", async () => {
    const api = fake({ exposeRoles: true, ignoreStatusFilter: true });
    const good = keyOf(1, { useCase: "user" });
    const plain = keyOf(2);
    api.addKey(good);
    api.addKey(plain);
    api.addKey(keyOf(1, { active: false }));
    api.addKey(keyOf(1, { store: false }));
    api.addKey(keyOf(2, { useCase: "profiling" }));
    const keys = await sourceFor(api).load();
    expect(keys.map((k) => k.publicKey).sort()).toEqual([good.publicKey, plain.publicKey].sort());
    expect(keys.find((k) => k.publicKey === plain.publicKey)).toEqual({ projectId: 2, publicKey: plain.publicKey, secretKey: plain.secretKey });
  });

  test("a project deleted between the listing and its keys is skipped", async () => {
    const api = fake();
    const k = keyOf(1);
    api.addKey(k);
    api.addProject(2, "gone");
    api.onRequest = (r) => {
      if (r.path === "/api/0/projects/acme/gone/keys/") api.removeProject("gone");
    };
    expect((await sourceFor(api).load()).map((x) => x.publicKey)).toEqual([k.publicKey]);
    expect(api.requests.some((r) => r.path === "/api/0/projects/acme/gone/keys/")).toBe(true);
  });
});

describe("sentry-api failures", () => {
  const load = (source: SentryApiKeySource) =>
    source.load().then(
      () => null,
      (e: Error) => e,
    );

  test("401: token rejected, without the token", async () => {
    const api = fake();
    api.addKey(keyOf(1));
    const wrong = "sntrys_wrong_token_0123456789";
    const err = await load(sourceFor(api, wrong));
    expect(err?.message).toContain("token rejected (401)");
    expect(err?.message).not.toContain(wrong);
    expect(err?.message).not.toContain(api.token);
  });

  test("403: token rejected", async () => {
    const api = fake();
    api.failNext(1, 403);
    expect((await load(sourceFor(api)))?.message).toContain("token rejected (403)");
  });

  test("429 with a short Retry-After: waited once, then the load succeeds", async () => {
    const api = fake();
    const k = keyOf(1);
    api.addKey(k);
    api.failNext(1, 429, "0.05");
    expect((await sourceFor(api).load()).map((x) => x.publicKey)).toEqual([k.publicKey]);
    expect(api.requests.length).toBe(3);
  });

  test("429 twice in one load fails it", async () => {
    const api = fake();
    api.addKey(keyOf(1));
    api.failNext(2, 429, "0.05");
    expect((await load(sourceFor(api)))?.message).toContain("rate limited (429)");
    expect(api.requests.length).toBe(2);
  });

  test("429 with a Retry-After beyond the bound fails at once", async () => {
    const api = fake();
    api.failNext(1, 429, "60");
    const err = await load(sourceFor(api));
    expect(err?.message).toContain("rate limited (429)");
    expect(err?.message).toContain("60 s");
    expect(api.requests.length).toBe(1);
  });

  test("5xx fails the load with the status", async () => {
    const api = fake();
    api.addKey(keyOf(1));
    api.failNext(1, 500);
    expect((await load(sourceFor(api)))?.message).toContain("Sentry answered 500 at GET /api/0/organizations/acme/projects/");
    // The failure was transient: the next load works.
    expect((await sourceFor(api).load()).length).toBe(1);
  });

  test("unknown organization", async () => {
    const api = fake();
    const source = new SentryApiKeySource({ baseUrl: api.url, org: "nope", token: () => api.token });
    expect((await load(source))?.message).toContain('organization "nope" not found (404)');
  });

  test("nothing listening: a network error naming the path", async () => {
    const api = fake();
    const url = api.url;
    await api.stop();
    const source = new SentryApiKeySource({ baseUrl: url, org: "acme", token: () => "tok-secret-xyz" });
    const err = await load(source);
    expect(err?.message).toContain("GET /api/0/organizations/acme/projects/ failed");
    expect(err?.message).not.toContain("tok-secret-xyz");
  });

  test("an empty token fails before any request", async () => {
    const api = fake();
    expect((await load(sourceFor(api, "  ")))?.message).toContain("token is empty");
    expect(api.requests.length).toBe(0);
  });
});

describe("sentry-api header parsing", () => {
  test("nextCursor reads Sentry's Link header", () => {
    const link =
      '<https://sentry.io/api/0/x/?&cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", ' +
      '<https://sentry.io/api/0/x/?&cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0"';
    expect(nextCursor(link)).toBe("0:100:0");
    expect(nextCursor(link.replace('results="true"', 'results="false"'))).toBeNull();
    expect(nextCursor('<https://s/api/0/x/?cursor=9:9:0>; rel="next"; results="true"')).toBe("9:9:0");
    expect(nextCursor(null)).toBeNull();
  });

  test("retryAfterMs reads seconds and HTTP dates", () => {
    expect(retryAfterMs("2")).toBe(2000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs(null)).toBeNull();
    expect(retryAfterMs("soon")).toBeNull();
  });
});

import { afterAll, beforeAll, expect, test } from "bun:test";
import { Http1NetworkError } from "../../src/forward/http1/client.ts";
import { fetchPost, proxyConfigured, upstreamPoster } from "../../src/forward/http1/poster.ts";

let server: ReturnType<typeof Bun.serve>;
beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (req) => new Response(`got ${(await req.arrayBuffer()).byteLength} ${req.headers.get("x-a")}`, { status: 429, headers: { "Retry-After": "9" } }),
  });
});
afterAll(() => server.stop(true));

test("a proxy in the environment selects fetch (which honours it); otherwise the http1 client", () => {
  expect(proxyConfigured({ HTTPS_PROXY: "http://proxy:3128" })).toBe(true);
  expect(proxyConfigured({ http_proxy: "http://proxy:3128" })).toBe(true);
  expect(proxyConfigured({ NO_PROXY: "*" })).toBe(false);
  const direct = upstreamPoster(2, {});
  expect("connections" in direct).toBe(true);
  direct.close();
  expect("connections" in upstreamPoster(2, { HTTPS_PROXY: "http://proxy:3128" })).toBe(false);
});

test("the fetch POST and the http1 POST give the same answer", async () => {
  const url = `http://127.0.0.1:${server.port}/api/1/store/`;
  const direct = upstreamPoster(2, {});
  try {
    for (const post of [fetchPost(), direct.post]) {
      const res = await post(url, { "x-a": "b" }, new Uint8Array(7));
      expect([res.status, res.headers.get("retry-after"), new TextDecoder().decode(res.body)]).toEqual([429, "9", "got 7 b"]);
    }
    server.stop(true);
    await expect(direct.post(url, {}, new Uint8Array(1))).rejects.toBeInstanceOf(Http1NetworkError);
  } finally {
    direct.close();
  }
});

/**
 * The malformed corpus (test/fixtures/malformed.ts) replayed against a running gateway: each
 * request gets Sentry's 4xx with a detail, none gets a 5xx, the process keeps answering, and its
 * memory stays bounded while it does.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FIXTURE_KEY, FIXTURE_PROJECT, malformedRequests } from "../fixtures/malformed.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

describe("malformed corpus", () => {
  let g: TestGateway;
  beforeAll(async () => {
    g = await startTestGateway({ PROJECT_KEYS: [[FIXTURE_PROJECT, FIXTURE_KEY, null]], URL_CACHE_EXPIRATION: 0 });
  });
  afterAll(() => g.stop());

  const corpus = malformedRequests();

  test(`${corpus.length} requests get the right status and a detail, never a 5xx`, async () => {
    expect(corpus.length).toBeGreaterThanOrEqual(200);
    const wrong: string[] = [];
    for (const r of corpus) {
      let res: Response;
      try {
        res = await fetch(g.url + r.path, { method: r.method, headers: r.headers, body: r.method === "GET" || r.method === "HEAD" ? undefined : r.body });
      } catch (e) {
        wrong.push(`${r.name}: request failed (${(e as Error).message})`);
        continue;
      }
      const text = await res.text();
      const ok = res.status === r.expectedStatus || (r.alsoAccept ?? []).includes(res.status);
      if (!ok) wrong.push(`${r.name}: got ${res.status} ${text.slice(0, 200)}, expected ${r.expectedStatus}`);
      if (res.status >= 500) wrong.push(`${r.name}: 5xx ${text.slice(0, 200)}`);
      if (ok && res.status >= 400 && res.status !== 431 && r.method !== "HEAD") {
        let detail: unknown;
        try {
          detail = JSON.parse(text).detail;
        } catch {
          detail = undefined;
        }
        if (typeof detail !== "string") wrong.push(`${r.name}: no JSON detail in ${text.slice(0, 200)}`);
        else if (r.expectedDetail && detail !== r.expectedDetail) wrong.push(`${r.name}: detail ${JSON.stringify(detail)}, expected ${JSON.stringify(r.expectedDetail)}`);
      }
    }
    expect(wrong).toEqual([]);
    const health = await fetch(`${g.url}/healthcheck`);
    expect(health.status).toBe(200);
  }, 120_000);

  test("memory stays bounded while answering the corpus many times over", async () => {
    const rss = async () => {
      if (g.gateway) return process.memoryUsage().rss;
      const status = await Bun.file(`/proc/${g.proc!.pid}/status`).text();
      return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
    };
    const send = (r: (typeof corpus)[number]) =>
      fetch(g.url + r.path, { method: r.method, headers: r.headers, body: r.method === "GET" || r.method === "HEAD" ? undefined : r.body }).then((res) => res.arrayBuffer());
    for (const r of corpus) await send(r); // warm up
    Bun.gc(true);
    const before = await rss();
    for (let round = 0; round < 5; round++) {
      await Promise.all(corpus.map(send));
    }
    Bun.gc(true);
    const after = await rss();
    // Five rounds of the corpus (bombs included) must not leave the process much larger:
    // nothing malformed is kept. 64 MiB covers allocator slack of the test process itself.
    expect(after - before).toBeLessThan(64 * 1024 * 1024);
    expect((await fetch(`${g.url}/healthcheck`)).status).toBe(200);
  }, 120_000);
});

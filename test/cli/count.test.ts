/** `cyclops count` over a farm of three running instances: each printed, totals exact, --json parses. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { farmTotals, parsePorts } from "../../src/cli/count.ts";
import { main } from "../../src/cli/main.ts";
import type { CountDocument } from "../../src/stats/count-document.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { eventJson, KEY, MATRIX_KEYS, PROJECT } from "../http/matrix.ts";

async function cli(argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const auth = { "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=count/1, sentry_key=${KEY}` };

describe("cyclops count against three instances", () => {
  const farm: TestGateway[] = [];
  // instance i gets i+1 distinct events and 2·i flood drops of one repeated error
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const g = await startTestGateway({ PROJECT_KEYS: MATRIX_KEYS, URL_CACHE_EXPIRATION: 60, MAX_CACHE_USES: 1 });
      farm.push(g);
      for (let n = 0; n <= i; n++) await fetch(`${g.url}/api/${PROJECT}/store/`, { method: "POST", headers: auth, body: eventJson() });
      for (let n = 0; n < 2 * i; n++) {
        await fetch(`${g.url}/api/${PROJECT}/store/`, { method: "POST", headers: auth, body: JSON.stringify({ message: "the same error" }) });
      }
    }
  });
  afterAll(() => Promise.all(farm.map((g) => g.stop())));

  test("prints each instance and the farm's totals in the original's words", async () => {
    const ports = farm.map((g) => g.port).join(",");
    const r = await cli(["count", "localhost", ports]);
    expect(r.code).toBe(0);
    for (const g of farm) expect(r.out).toMatch(new RegExp(`localhost:${g.port} has still \\d+ messages to process`));
    // processed: 1+2+3 distinct + one of the repeated error on instances 1 and 2 = 8; ignored: 1 + 3 = 4
    expect(r.out).toContain("Total 8 processed items and 4 ignored items (33.33%).");
    expect(r.out).toContain("Total of ");
    const json = await cli(["count", "http://localhost", ports, "--json"]);
    const doc = JSON.parse(json.out);
    expect(doc.instances).toHaveLength(3);
    expect(doc.totals.processed).toBe(8);
    expect(doc.totals.ignored).toBe(4);
    expect(doc.totals.missing).toEqual([]);
  });
});

describe("count's arithmetic", () => {
  const doc = (over: Partial<CountDocument>): CountDocument => ({
    count: 0,
    average: null,
    percentile: null,
    processed: 0,
    ignored: 0,
    delivered: 0,
    retried: 0,
    rejected: 0,
    expired: 0,
    samples: 0,
    keys: { size: 0, age_seconds: null, last_error: null },
    ...over,
  });

  test("averages are weighted by the response times behind them, not averaged as averages", () => {
    const t = farmTotals([
      { address: "a:1", count: doc({ average: 10, percentile: 20, samples: 300 }), error: null },
      { address: "a:2", count: doc({ average: 40, percentile: 80, samples: 100 }), error: null },
      { address: "a:3", count: doc({ average: null, samples: 0 }), error: null },
      { address: "a:4", count: null, error: "refused" },
    ]);
    expect(t.average).toBe(17.5); // (10·300 + 40·100) / 400, where a plain mean says 25
    expect(t.percentile).toBe(35);
    expect(t.missing).toEqual(["a:4"]);
  });

  test("ports: single, range, list and a mix", () => {
    expect(parsePorts("9100")).toEqual([9100]);
    expect(parsePorts("9100-9102")).toEqual([9100, 9101, 9102]);
    expect(parsePorts("9100,9102")).toEqual([9100, 9102]);
    expect(parsePorts("9100-9101,9105,9101")).toEqual([9100, 9101, 9105]);
  });
});

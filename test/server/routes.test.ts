/**
 * The listener's ingest matcher (routes.ts) against the route table: every path of the table, with
 * and without a query, names its route; nothing else does.
 */
import { describe, expect, test } from "bun:test";
import { INGEST_ROUTES, matchIngestUrl } from "../../src/server/routes.ts";

const BASE = "http://127.0.0.1:9100";

describe("matchIngestUrl", () => {
  for (const r of INGEST_ROUTES) {
    const path = r.path.replace(":projectId", "42");
    test(`${r.path} is the ${r.route} route`, () => {
      const expected = { route: r.route, projectParam: r.hasProject ? "42" : null };
      expect(matchIngestUrl(BASE + path)).toEqual(expected);
      expect(matchIngestUrl(`${BASE}${path}?sentry_key=abc&sentry_version=7`)).toEqual(expected);
    });
  }

  test("a project segment that is not a number still matches (the pipeline answers 400)", () => {
    expect(matchIngestUrl(`${BASE}/api/abc/store/`)).toEqual({ route: "store", projectParam: "abc" });
  });

  test("other paths are not ingest routes", () => {
    for (const path of [
      "/",
      "/healthcheck",
      "/count",
      "/api/",
      "/api",
      "/api//store/",
      "/api/1/store//",
      "/api/1/2/store/",
      "/api/1/stores/",
      "/api/1/events/",
      "/api/1/envelope/x",
      "/apix/1/store/",
      "/x/api/1/store/",
      "/api/1/",
    ]) {
      expect(matchIngestUrl(BASE + path)).toBeNull();
    }
  });

  test("the query is not part of the path", () => {
    expect(matchIngestUrl(`${BASE}/count?x=/api/1/store/`)).toBeNull();
    expect(matchIngestUrl(`${BASE}/api/1/store?next=/`)).toEqual({ route: "store", projectParam: "1" });
  });
});

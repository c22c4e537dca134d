/** The shared query builder, row mapping and error redaction, without a database. */
import { describe, expect, test } from "bun:test";
import { redact, safeError, withTimeout } from "../../src/keys/redact.ts";
import { buildProjectKeyQuery, rowsToProjectKeys } from "../../src/keys/sentry-schema.ts";

describe("buildProjectKeyQuery", () => {
  test("2013 columns: no status or roles filter, only non-null public keys", () => {
    expect(buildProjectKeyQuery(["id", "project_id", "public_key", "secret_key", "user_id"])).toBe(
      "SELECT project_id, public_key, secret_key FROM sentry_projectkey WHERE public_key IS NOT NULL",
    );
  });

  test("roles only (2014): store role required", () => {
    expect(buildProjectKeyQuery(["project_id", "public_key", "secret_key", "roles", "label"])).toBe(
      "SELECT project_id, public_key, secret_key FROM sentry_projectkey WHERE public_key IS NOT NULL AND (roles & 1) = 1",
    );
  });

  test("status and roles (2015+), column names in any case", () => {
    expect(buildProjectKeyQuery(["PROJECT_ID", "Public_Key", "SECRET_KEY", "STATUS", "ROLES", "USE_CASE"])).toBe(
      "SELECT project_id, public_key, secret_key FROM sentry_projectkey WHERE public_key IS NOT NULL AND status = 0 AND (roles & 1) = 1",
    );
  });

  test("a table without secret_key selects NULL in its place", () => {
    expect(buildProjectKeyQuery(["project_id", "public_key"])).toContain("NULL AS secret_key");
  });

  test("missing table or required column: a message naming it", () => {
    expect(() => buildProjectKeyQuery([])).toThrow("table sentry_projectkey not found");
    expect(() => buildProjectKeyQuery(["id", "public_key"])).toThrow("has no project_id column");
    expect(() => buildProjectKeyQuery(["id", "project_id"])).toThrow("has no public_key column");
  });
});

describe("rowsToProjectKeys", () => {
  test("accepts ids as number, bigint or string and keys as text or bytes", () => {
    const pk = "a".repeat(32);
    expect(
      rowsToProjectKeys([
        { project_id: 1, public_key: pk, secret_key: "s1" },
        { project_id: 2n, public_key: "b".repeat(32), secret_key: null },
        { project_id: "3", public_key: new TextEncoder().encode("c".repeat(32)), secret_key: "" },
      ]),
    ).toEqual([
      { projectId: 1, publicKey: pk, secretKey: "s1" },
      { projectId: 2, publicKey: "b".repeat(32), secretKey: null },
      { projectId: 3, publicKey: "c".repeat(32), secretKey: null },
    ]);
  });

  test("skips rows that cannot be a key", () => {
    expect(
      rowsToProjectKeys([
        { project_id: 1, public_key: null, secret_key: "s" },
        { project_id: 1, public_key: "", secret_key: "s" },
        { project_id: 0, public_key: "k1", secret_key: "s" },
        { project_id: "9007199254740993", public_key: "k2", secret_key: "s" },
        { project_id: "x", public_key: "k3", secret_key: "s" },
        { project_id: 7, public_key: "k4", secret_key: "s" },
      ]).map((k) => k.publicKey),
    ).toEqual(["k4"]);
  });
});

describe("redact", () => {
  test("removes secrets and URL credentials", () => {
    const msg = redact("connect to postgres://sentry:hunter2@db:5432/sentry failed; password hunter2; token abc", ["hunter2", "abc", "", null]);
    expect(msg).not.toContain("hunter2");
    expect(msg).not.toContain("abc");
    expect(msg).toContain("postgres://sentry:***@db:5432/sentry");
  });

  test("safeError keeps the context and the code but not the original error", () => {
    const original = Object.assign(new Error("connect refused, password=pw123"), { code: "ECONNREFUSED", options: { password: "pw123" } });
    const err = safeError("db:5432/sentry", original, ["pw123"]);
    expect(err.message).toBe("db:5432/sentry: connect refused, password=*** (ECONNREFUSED)");
    expect(err.cause).toBeUndefined();
    expect(JSON.stringify(Object.entries(err))).not.toContain("pw123");
  });
});

describe("withTimeout", () => {
  test("rejects and tears down when the work hangs", async () => {
    let tornDown = false;
    const never = new Promise<number>(() => {});
    await expect(withTimeout(never, 20, () => (tornDown = true))).rejects.toThrow("timed out after 0.02 s");
    expect(tornDown).toBe(true);
  });

  test("passes the result through when the work finishes", async () => {
    expect(await withTimeout(Promise.resolve(5), 1000)).toBe(5);
  });
});

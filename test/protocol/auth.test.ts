import { describe, expect, test } from "bun:test";
import { extractAuth, formDecode, parseAuthHeader, parseAuthQuery, type AuthInputs } from "../../src/protocol/auth.ts";
import { ProtocolError } from "../../src/protocol/errors.ts";

const KEY = "0123456789abcdef0123456789abcdef";
const SECRET = "fedcba9876543210fedcba9876543210";

function inputs(partial: Partial<AuthInputs>): AuthInputs {
  return { xSentryAuth: null, authorization: null, query: "", ...partial };
}

function fails(fn: () => unknown): { status: number; detail: string } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    const err = e as ProtocolError;
    return { status: err.status, detail: err.detail };
  }
  throw new Error("expected a ProtocolError");
}

describe("parseAuthHeader", () => {
  test("raven-python style header with secret", () => {
    expect(parseAuthHeader(`Sentry sentry_version=7, sentry_client=raven-python/6.0, sentry_key=${KEY}, sentry_secret=${SECRET}`)).toEqual({
      publicKey: KEY,
      secretKey: SECRET,
      client: "raven-python/6.0",
      version: 7,
    });
  });

  test("modern header without secret, key first, no spaces, prefix case-insensitive", () => {
    expect(parseAuthHeader(`SENTRY sentry_key=${KEY},sentry_version=7,sentry_client=sentry.javascript.node/11.12.0`)).toEqual({
      publicKey: KEY,
      secretKey: null,
      client: "sentry.javascript.node/11.12.0",
      version: 7,
    });
  });

  test("version defaults to 7; '2.0' is 2; '+5' is 5 (Rust u16 parsing)", () => {
    expect(parseAuthHeader(`Sentry sentry_key=${KEY}`).version).toBe(7);
    expect(parseAuthHeader(`Sentry sentry_key=${KEY}, sentry_version=2.0`).version).toBe(2);
    expect(parseAuthHeader(`Sentry sentry_key=${KEY}, sentry_version=+5`).version).toBe(5);
  });

  test("items without '=' are skipped, unknown keys ignored, values trimmed, '=' truncates a value", () => {
    const auth = parseAuthHeader(`Sentry garbage, sentry_timestamp=1329096377,  sentry_key = ${KEY} , other=1, sentry_client=a=b`);
    expect(auth.publicKey).toBe(KEY);
    expect(auth.client).toBe("a");
  });

  test("last duplicate wins", () => {
    expect(parseAuthHeader(`Sentry sentry_key=${"c".repeat(32)}, sentry_key=${KEY}`).publicKey).toBe(KEY);
  });

  test("key flags are stripped", () => {
    expect(parseAuthHeader(`Sentry sentry_key=${KEY}.no-cache`).publicKey).toBe(KEY);
    expect(parseAuthHeader(`Sentry sentry_key=${KEY}.a.b`).publicKey).toBe(KEY);
  });

  test.each([
    ["Bearer abc", 401, "bad x-sentry-auth header"],
    ["Sentry", 401, "bad x-sentry-auth header"],
    ["Sentry sentry_version=7", 401, "bad x-sentry-auth header"],
    ["Sentry sentry_key=", 401, "bad x-sentry-auth header"],
    [`Sentry sentry_key=${KEY}, sentry_version=seven`, 401, "bad x-sentry-auth header"],
    [`Sentry sentry_key=${KEY}, sentry_version=`, 401, "bad x-sentry-auth header"],
    [`Sentry sentry_key=${KEY}, sentry_version=-1`, 401, "bad x-sentry-auth header"],
    [`Sentry sentry_key=${KEY}, sentry_version=70000`, 401, "bad x-sentry-auth header"],
    [`Sentry sentry_key=${KEY}, sentry_version=8`, 400, "unsupported protocol version (8)"],
    [`Sentry sentry_key=${KEY}, sentry_version=10.1`, 400, "unsupported protocol version (10)"],
    ["Sentry sentry_key=abc", 400, "bad sentry DSN public key"],
    [`Sentry sentry_key=${KEY}0`, 400, "bad sentry DSN public key"],
    [`Sentry sentry_key=${"g".repeat(32)}`, 400, "bad sentry DSN public key"],
    [`Sentry sentry_key=.${KEY}`, 400, "bad sentry DSN public key"],
  ])("%s → %d %s", (header, status, detail) => {
    expect(fails(() => parseAuthHeader(header))).toEqual({ status, detail });
  });
});

describe("parseAuthQuery", () => {
  test("no sentry_ → null", () => {
    expect(parseAuthQuery("")).toBeNull();
    expect(parseAuthQuery("a=1&b=2")).toBeNull();
  });

  test("browser SDK query", () => {
    expect(parseAuthQuery(`sentry_version=7&sentry_key=${KEY}&sentry_client=sentry.javascript.browser%2F11.12.0`)).toEqual({
      publicKey: KEY,
      secretKey: null,
      client: "sentry.javascript.browser/11.12.0",
      version: 7,
    });
  });

  test("percent-escapes and '+' are decoded, in keys too; values may contain '='", () => {
    const auth = parseAuthQuery(`sentry%5Fkey=${KEY}&sentry_client=raven-js+3.27.2%20%E2%9C%93&sentry_secret=a=b`)!;
    expect(auth.publicKey).toBe(KEY);
    expect(auth.client).toBe("raven-js 3.27.2 ✓");
    expect(auth.secretKey).toBe("a=b");
  });

  test("sentry_data is skipped without being decoded, empty pairs tolerated", () => {
    const data = encodeURIComponent(JSON.stringify({ message: "x&y=z", extra: { sentry_key: "nope" } }));
    const auth = parseAuthQuery(`&&sentry_version=7&sentry_data=${data}&sentry_key=${KEY}&`)!;
    expect(auth.publicKey).toBe(KEY);
  });

  test("errors", () => {
    expect(fails(() => parseAuthQuery("sentry_data=%7B%7D"))).toEqual({ status: 401, detail: "bad x-sentry-auth header" });
    expect(fails(() => parseAuthQuery("sentry_key"))).toEqual({ status: 401, detail: "bad x-sentry-auth header" });
    expect(fails(() => parseAuthQuery(`sentry_key=${KEY}&sentry_version=x`))).toEqual({ status: 401, detail: "bad x-sentry-auth header" });
    expect(fails(() => parseAuthQuery("sentry_key=short"))).toEqual({ status: 400, detail: "bad sentry DSN public key" });
    expect(fails(() => parseAuthQuery(`sentry_key=${KEY}&sentry_version=9`))).toEqual({ status: 400, detail: "unsupported protocol version (9)" });
  });
});

describe("formDecode", () => {
  test("application/x-www-form-urlencoded rules", () => {
    expect(formDecode("a+b")).toBe("a b");
    expect(formDecode("%41%62")).toBe("Ab");
    expect(formDecode("100%")).toBe("100%");
    expect(formDecode("%zz%4")).toBe("%zz%4");
    expect(formDecode("%C3%A9+%2B")).toBe("é +");
    expect(formDecode("%FF")).toBe("\uFFFD");
    expect(formDecode("%41".repeat(300_000))).toBe("A".repeat(300_000));
  });
});

describe("extractAuth", () => {
  const header = `Sentry sentry_key=${KEY}, sentry_version=7`;

  test("none → null (non-sentry schemes are not credentials)", () => {
    expect(extractAuth(inputs({}))).toBeNull();
    expect(extractAuth(inputs({ authorization: "Bearer xyz", query: "a=1" }))).toBeNull();
    expect(extractAuth(inputs({ xSentryAuth: "Token abc" }))).toBeNull();
    expect(extractAuth(inputs({ xSentryAuth: "Sentry" }))).toBeNull();
  });

  test("each single source", () => {
    expect(extractAuth(inputs({ xSentryAuth: header }))?.publicKey).toBe(KEY);
    expect(extractAuth(inputs({ authorization: header }))?.publicKey).toBe(KEY);
    expect(extractAuth(inputs({ query: `sentry_key=${KEY}` }))?.publicKey).toBe(KEY);
    const basic = `Basic ${Buffer.from(`${KEY}:whatever`).toString("base64")}`;
    expect(extractAuth(inputs({ authorization: basic }))).toEqual({ publicKey: KEY, secretKey: "whatever", client: null, version: 7 });
    expect(extractAuth(inputs({ authorization: `bAsIc ${Buffer.from(`${KEY}:`).toString("base64")}` }))?.publicKey).toBe(KEY);
  });

  test("Basic's password is the secret, checked as in every other placement; empty is none", () => {
    const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString("base64")}`;
    expect(extractAuth(inputs({ authorization: basic(`${KEY}:s3cr:et`) }))?.secretKey).toBe("s3cr:et");
    expect(extractAuth(inputs({ authorization: basic(`${KEY}:`) }))?.secretKey).toBeNull();
  });

  test("undecodable Basic is ignored, as in Relay", () => {
    expect(extractAuth(inputs({ authorization: "Basic !!!!" }))).toBeNull();
    expect(extractAuth(inputs({ authorization: `Basic ${Buffer.from(KEY).toString("base64")}` }))).toBeNull();
    expect(extractAuth(inputs({ authorization: `Basic ${Buffer.from(`:${KEY}`).toString("base64")}` }))).toBeNull();
    expect(extractAuth(inputs({ authorization: "Basic YWJj" }))).toBeNull(); // "abc": no colon
  });

  test("Basic with a malformed key → 400", () => {
    const basic = `Basic ${Buffer.from("user:pass").toString("base64")}`;
    expect(fails(() => extractAuth(inputs({ authorization: basic })))).toEqual({ status: 400, detail: "bad sentry DSN public key" });
  });

  test.each([
    ["header + authorization", { xSentryAuth: header, authorization: header }],
    ["header + basic", { xSentryAuth: header, authorization: `Basic ${Buffer.from(`${KEY}:x`).toString("base64")}` }],
    ["header + query", { xSentryAuth: header, query: `sentry_key=${KEY}` }],
    ["header + sentry_data query", { xSentryAuth: header, query: "sentry_data=%7B%7D" }],
    ["authorization + query", { authorization: header, query: `x=1&sentry_version=7` }],
    ["basic + query", { authorization: `Basic ${Buffer.from(`${KEY}:x`).toString("base64")}`, query: `sentry_key=${KEY}` }],
    // Relay checks for several sources before validating any key.
    ["bad key header + query", { xSentryAuth: "Sentry sentry_key=bad", query: "sentry_key=bad" }],
  ])("multiple sources (%s) → 401", (_name, partial) => {
    expect(fails(() => extractAuth(inputs(partial)))).toEqual({ status: 401, detail: "multiple authorization payloads detected" });
  });

  test("a non-sentry X-Sentry-Auth does not count as a source", () => {
    expect(extractAuth(inputs({ xSentryAuth: "Bearer x", query: `sentry_key=${KEY}` }))?.publicKey).toBe(KEY);
  });

  test("header values that are not visible ASCII are ignored (HeaderValue::to_str)", () => {
    expect(extractAuth(inputs({ xSentryAuth: `${header}, sentry_client=caf\u00e9` }))).toBeNull();
    expect(extractAuth(inputs({ xSentryAuth: `${header}\u0001` }))).toBeNull();
    expect(extractAuth(inputs({ xSentryAuth: `${header},\tsentry_client=x` }))?.client).toBe("x");
  });

  test("huge escaped query values are a 4xx, not a crash", () => {
    const client = "%2F".repeat(500_000);
    expect(extractAuth(inputs({ query: `sentry_key=${KEY}&sentry_client=${client}` }))?.client).toBe("/".repeat(500_000));
    expect(fails(() => extractAuth(inputs({ query: `sentry_key=${"%61".repeat(500_000)}` })))).toEqual({ status: 400, detail: "bad sentry DSN public key" });
  });

  test("huge header is a 4xx, not a crash", () => {
    const huge = `Sentry sentry_key=${"a".repeat(20000)}`;
    expect(fails(() => extractAuth(inputs({ xSentryAuth: huge }))).status).toBe(400);
    const hugeJunk = `Sentry ${"x,".repeat(10000)}`;
    expect(fails(() => extractAuth(inputs({ xSentryAuth: hugeJunk })))).toEqual({ status: 401, detail: "bad x-sentry-auth header" });
  });
});

import { describe, expect, test } from "bun:test";
import { parseDsn } from "../../src/protocol/dsn.ts";
import { checkEnvelopeDsn, envelopeEventId, envelopeEventItem, itemCategory, parseEnvelope, parseEnvelopeHeader } from "../../src/protocol/envelope.ts";
import { fails } from "./fails.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string) => enc.encode(s);
const KEY = "0123456789abcdef0123456789abcdef";
const ID = "9ec79c33ec9942ab8353589fcb2e04dc";
const DSN = `https://${KEY}@o1.ingest.sentry.io/42`;

const payloads = (s: string) => parseEnvelope(bytes(s)).items.map((i) => dec.decode(i.payload));

describe("parseEnvelope: valid", () => {
  test("spec example with and without length, attachment with newlines inside", () => {
    const env = parseEnvelope(
      bytes(
        `{"event_id":"${ID}","dsn":"${DSN}"}\n` +
          `{"type":"attachment","length":10,"content_type":"text/plain","filename":"hello.txt"}\n` +
          "\ufeffHello\r\n\n" +
          `{"type":"event","length":41,"content_type":"application/json","filename":"application.log"}\n` +
          `{"message":"hello world","level":"error"}\n`,
      ),
    );
    expect(env.headers).toEqual({ event_id: ID, dsn: DSN });
    expect(env.items.map((i) => i.type)).toEqual(["attachment", "event"]);
    expect(env.items[0]!.payload.length).toBe(10);
    expect(dec.decode(env.items[1]!.payload)).toBe('{"message":"hello world","level":"error"}');
  });

  test("items without length run to the next newline or EOF", () => {
    expect(payloads('{}\n{"type":"session"}\n{"started":"2020-02-07T14:16:00Z"}\n{"type":"client_report"}\n{"a":1}')).toEqual(['{"started":"2020-02-07T14:16:00Z"}', '{"a":1}']);
  });

  test("trailing newline optional", () => {
    expect(payloads('{}\n{"type":"event","length":2}\n{}')).toEqual(["{}"]);
    expect(payloads('{}\n{"type":"event","length":2}\n{}\n')).toEqual(["{}"]);
    expect(payloads('{}\n{"type":"event"}\n{}\n')).toEqual(["{}"]);
  });

  test("header-only envelopes, with or without newline", () => {
    expect(parseEnvelope(bytes("{}")).items).toEqual([]);
    expect(parseEnvelope(bytes("{}\n")).items).toEqual([]);
  });

  test("empty payloads: length 0, and header at EOF", () => {
    expect(payloads('{}\n{"type":"attachment","length":0}\n')).toEqual([""]);
    expect(payloads('{}\n{"type":"attachment","length":0}')).toEqual([""]);
    expect(payloads('{}\n{"type":"attachment"}')).toEqual([""]);
    expect(payloads('{}\n{"type":"attachment"}\n\n{"type":"event"}\n{}')).toEqual(["", "{}"]);
  });

  test("whitespace before a header is skipped (serde stream), so a blank line between items passes", () => {
    expect(payloads('  {}\n{"type":"event","length":2}\n{}\n\n {"type":"event"}\n{}')).toEqual(["{}", "{}"]);
  });

  test("CR inside a length-delimited payload belongs to the payload", () => {
    expect(payloads('{}\n{"type":"attachment","length":3}\na\r\n\n')).toEqual(["a\r\n"]);
    expect(payloads('{}\n{"type":"event"}\n{}\r\n')).toEqual(["{}\r"]);
  });

  test("unknown item types and header fields are kept; length null means no length", () => {
    const env = parseEnvelope(bytes('{"x-custom":[1]}\n{"type":"new_thing","foo":{"bar":1},"length":null}\nabc\n'));
    expect(env.headers).toEqual({ "x-custom": [1] });
    expect(env.items[0]!.type).toBe("new_thing");
    expect(env.items[0]!.headers).toEqual({ type: "new_thing", foo: { bar: 1 }, length: null });
    expect(dec.decode(env.items[0]!.payload)).toBe("abc");
  });

  test("payloads are views into the request body (no copies)", () => {
    const body = bytes('{}\n{"type":"event","length":2}\n{}\n');
    expect(parseEnvelope(body).items[0]!.payload.buffer).toBe(body.buffer);
  });

  test("real SDK envelopes", async () => {
    for (const name of ["sentry-node-11-exception.a", "sentry-node-10-exception.a", "sentry-node-11-message.a"]) {
      const body = new Uint8Array(await Bun.file(`${import.meta.dir}/../fixtures/payloads/${name}.envelope`).arrayBuffer());
      const env = parseEnvelope(body);
      expect(envelopeEventItem(env)).not.toBeNull();
      expect(envelopeEventId(env)).toMatch(/^[0-9a-f]{32}$/);
    }
  });
});

describe("parseEnvelope: malformed → 400 invalid event envelope", () => {
  test.each([
    ["empty body", ""],
    ["whitespace only", " \n "],
    ["header not JSON", "hello\n"],
    ["header an array", "[]\n"],
    ["header a string", '"x"\n'],
    ["header with CRLF", '{}\r\n{"type":"event"}\n{}'],
    ["header with trailing space", '{} \n{"type":"event"}\n{}'],
    ["header over two lines", '{"a":\n1}\n'],
    ["event_id not a uuid", '{"event_id":"nope"}\n'],
    ["event_id a number", '{"event_id":12}\n'],
    ["two sent_at", '{"sent_at":"2020-02-07T14:16:00Z","sent_at":"2020-02-07T14:16:01Z"}\n'],
    ["item header not JSON", "{}\nnot json\n"],
    ["item header with CRLF", '{}\n{"type":"event"}\r\n{}'],
    ["item without type", '{}\n{"length":2}\n{}'],
    ["item type not a string", '{}\n{"type":1}\n{}'],
    ["item header an array", '{}\n["event"]\n{}'],
    ["duplicate type", '{}\n{"type":"event","type":"attachment"}\n{}'],
    ["duplicate length", '{}\n{"type":"event","length":2,"length":3}\n{}'],
    ["negative length", '{}\n{"type":"event","length":-1}\n{}'],
    ["fractional length", '{}\n{"type":"event","length":1.5}\n{}'],
    ["string length", '{}\n{"type":"event","length":"2"}\n{}'],
    ["huge length", '{}\n{"type":"event","length":4294967296}\n{}'],
    ["length past EOF", '{}\n{"type":"event","length":10}\n{}'],
    ["length past EOF at header end", '{}\n{"type":"event","length":1}'],
    ["garbage after length-delimited item", '{}\n{"type":"event","length":2}\n{}xx\n'],
    ["length too short", '{}\n{"type":"event","length":1}\n{}\n'],
    ["two trailing newlines", '{}\n{"type":"event","length":2}\n{}\n\n'],
    ["trailing whitespace", '{}\n{"type":"event"}\n{}\n  '],
    ["header then blank line", "{}\n\n"],
    ["invalid UTF-8 in header", '{"a":"\xff"}\n'],
  ])("%s", (_name, body) => {
    const b = _name === "invalid UTF-8 in header" ? new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d, 0x0a]) : bytes(body);
    const err = fails(() => parseEnvelope(b));
    expect(err.status).toBe(400);
    expect(err.detail).toBe("invalid event envelope");
    expect(err.causes.length).toBe(1);
  });
});

describe("parseEnvelopeHeader", () => {
  test("first line only, tolerant of surrounding whitespace (serde from_slice)", () => {
    expect(parseEnvelopeHeader(bytes(`{"dsn":"${DSN}"}\nnot even parsed`))).toEqual({ dsn: DSN });
    expect(parseEnvelopeHeader(bytes(` {"dsn":"${DSN}"} \r\n`))).toEqual({ dsn: DSN });
  });

  test.each(["", "\n{}", "[1]\n", "nope\n{}"])("%j → 401 bad envelope authentication header", (body) => {
    expect(fails(() => parseEnvelopeHeader(bytes(body)))).toMatchObject({ status: 401, detail: "bad envelope authentication header" });
  });
});

describe("envelopeEventId", () => {
  const env = (s: string) => parseEnvelope(bytes(s));

  test("header wins and is normalised", () => {
    expect(envelopeEventId(env(`{"event_id":"9EC79C33-EC99-42AB-8353-589FCB2E04DC"}\n{"type":"event"}\n{"event_id":"${"1".repeat(32)}"}`))).toBe(ID);
  });

  test("from the event or transaction payload; null otherwise", () => {
    expect(envelopeEventId(env(`{}\n{"type":"event"}\n{"event_id":"${ID}"}`))).toBe(ID);
    expect(envelopeEventId(env(`{}\n{"type":"attachment"}\nx\n{"type":"transaction"}\n{"event_id":"{${ID}}"}`))).toBe(ID);
    expect(envelopeEventId(env('{}\n{"type":"session"}\n{"event_id":"x"}'))).toBeNull();
    expect(envelopeEventId(env('{}\n{"type":"event"}\nnot json'))).toBeNull();
    expect(envelopeEventId(env("{}"))).toBeNull();
  });

  test("envelopeEventItem only returns error events", () => {
    expect(envelopeEventItem(env('{}\n{"type":"transaction"}\n{}'))).toBeNull();
    expect(envelopeEventItem(env('{}\n{"type":"attachment"}\n\n{"type":"event"}\n{}'))?.type).toBe("event");
  });
});

describe("checkEnvelopeDsn", () => {
  test("no dsn, or matching dsn, passes", () => {
    checkEnvelopeDsn({}, 42, KEY);
    checkEnvelopeDsn({ dsn: DSN }, 42, KEY);
    checkEnvelopeDsn(parseEnvelope(bytes(`{"dsn":"${DSN}"}\n`)), 42, KEY);
    checkEnvelopeDsn({ dsn: DSN }, null, KEY); // legacy route: no project id to compare
  });

  test.each([
    ["other project", { dsn: DSN }, 43, KEY],
    ["other key", { dsn: DSN }, 42, "f".repeat(32)],
    ["not a dsn", { dsn: "nope" }, 42, KEY],
    ["dsn not a string", { dsn: 5 }, 42, KEY],
  ])("%s → 400", (_name, headers, projectId, key) => {
    expect(fails(() => checkEnvelopeDsn(headers, projectId, key))).toMatchObject({ status: 400, detail: "invalid event envelope" });
  });
});

describe("parseDsn", () => {
  test("forms from the develop docs", () => {
    expect(parseDsn(DSN)).toEqual({ publicKey: KEY, secretKey: null, projectId: 42, host: "o1.ingest.sentry.io", path: "", protocol: "https" });
    expect(parseDsn(`http://${KEY}:${"b".repeat(32)}@localhost:9000/sentry/prefix/7`)).toEqual({
      publicKey: KEY,
      secretKey: "b".repeat(32),
      projectId: 7,
      host: "localhost:9000",
      path: "/sentry/prefix",
      protocol: "http",
    });
    expect(parseDsn(`https://${KEY}:@example.com/3/`).secretKey).toBeNull();
  });

  test.each([
    "",
    "not a url",
    `ftp://${KEY}@example.com/1`,
    "https://example.com/1",
    `https://${KEY}@example.com/`,
    `https://${KEY}@example.com/abc`,
    `https://${KEY}@example.com/1.5`,
    "https://short@example.com/1",
    `https://${KEY}.no-cache@example.com/1`,
  ])("%j → 401 bad envelope authentication header", (dsn) => {
    expect(fails(() => parseDsn(dsn))).toMatchObject({ status: 401, detail: "bad envelope authentication header" });
  });
});

describe("itemCategory", () => {
  test.each([
    ["event", "error"],
    ["transaction", "transaction"],
    ["session", "session"],
    ["sessions", "session"],
    ["attachment", "attachment"],
    ["client_report", "internal"],
    ["user_report", "feedback"],
    ["check_in", "monitor"],
    ["replay_recording", "replay"],
    ["profile", "profile"],
    ["span", "span"],
    ["log", "log_item"],
    ["statsd", "metric_bucket"],
    ["something_new", "default"],
    ["__proto__", "default"],
    ["constructor", "default"],
  ])("%s → %s", (type, category) => {
    expect(itemCategory(type)).toBe(category);
  });
});

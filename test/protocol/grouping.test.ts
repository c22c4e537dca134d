import { describe, expect, test } from "bun:test";
import * as zlib from "node:zlib";
import { decodeStoreBody, parseEventJson } from "../../src/protocol/body.ts";
import { envelopeEventItem, parseEnvelope } from "../../src/protocol/envelope.ts";
import { getFloodKey, groupingHash, writeGroupingKey } from "../../src/protocol/grouping.ts";
import { hash53 } from "../../src/protocol/hash53.ts";

type Event = Record<string, unknown>;
const DIR = `${import.meta.dir}/../fixtures/payloads`;

async function fromEnvelope(name: string): Promise<Event> {
  const env = parseEnvelope(new Uint8Array(await Bun.file(`${DIR}/${name}.envelope`).arrayBuffer()));
  return parseEventJson(envelopeEventItem(env)!.payload, null);
}

async function fromWire(name: string): Promise<Event> {
  const wire = await Bun.file(`${DIR}/${name}.wire.json`).json();
  const client = /sentry_client=([^,]+)/.exec(wire.headers["x-sentry-auth"])?.[1] ?? null;
  if (wire.bodyBase64 !== undefined) return parseEventJson(zlib.gunzipSync(Buffer.from(wire.bodyBase64, "base64")), client);
  return parseEventJson(decodeStoreBody(new TextEncoder().encode(wire.body), 1 << 20), client);
}

async function fromJson(name: string): Promise<Event> {
  return (await Bun.file(`${DIR}/${name}.json`).json()) as Event;
}

const clone = (e: Event): Event => structuredClone(e);

describe("groupingHash on real SDK payloads: same error, other deploy, shifted lines → same hash", () => {
  test.each([
    ["@sentry/node 11", () => fromEnvelope("sentry-node-11-exception.a"), () => fromEnvelope("sentry-node-11-exception.b")],
    ["@sentry/node 10", () => fromEnvelope("sentry-node-10-exception.a"), () => fromEnvelope("sentry-node-10-exception.b")],
    ["@sentry/node message", () => fromEnvelope("sentry-node-11-message.a"), () => fromEnvelope("sentry-node-11-message.b")],
    ["raven-node (list-shaped exception, base64+zlib)", () => fromWire("raven-node-exception.a"), () => fromWire("raven-node-exception.b")],
    ["python sentry_sdk exception", () => fromWire("python-sdk-exception.a"), () => fromWire("python-sdk-exception.b")],
    ["python sentry_sdk logentry", () => fromWire("python-sdk-logentry.a"), () => fromWire("python-sdk-logentry.b")],
    ["raven-js 3 after a redeploy (other CDN, bundle hash, columns)", () => fromJson("raven-js-3"), () => fromJson("raven-js-3.redeploy")],
  ])("%s", async (_name, loadA, loadB) => {
    const a = await loadA();
    const b = await loadB();
    expect(a.event_id).not.toEqual(b.event_id);
    expect(groupingHash(a)).toBe(groupingHash(b));
    expect(Number.isSafeInteger(groupingHash(a))).toBe(true);
  });

  test("the fixtures really differ in line numbers and paths", async () => {
    const a = JSON.stringify(await fromEnvelope("sentry-node-11-exception.a"));
    const b = JSON.stringify(await fromEnvelope("sentry-node-11-exception.b"));
    expect(a.match(/"lineno":\d+/g)).not.toEqual(b.match(/"lineno":\d+/g));
    expect(a.match(/deploy-a/)).not.toBeNull();
    expect(b.match(/deploy-a/)).toBeNull();
  });
});

describe("groupingHash keeps different errors apart", () => {
  test("exception vs message events of one SDK", async () => {
    expect(groupingHash(await fromEnvelope("sentry-node-11-exception.a"))).not.toBe(groupingHash(await fromEnvelope("sentry-node-11-message.a")));
    expect(groupingHash(await fromWire("python-sdk-exception.a"))).not.toBe(groupingHash(await fromWire("python-sdk-logentry.a")));
  });

  test("another exception type → another hash; another value with the same stack → same (as Sentry)", async () => {
    const a = await fromEnvelope("sentry-node-11-exception.a");
    const other = clone(a);
    const values = (other.exception as { values: Event[] }).values;
    values[0]!.type = "RangeError";
    expect(groupingHash(other)).not.toBe(groupingHash(a));
    const sameStack = clone(a);
    (sameStack.exception as { values: Event[] }).values[0]!.value = "Cannot read properties of undefined (reading 'email')";
    expect(groupingHash(sameStack)).toBe(groupingHash(a));
  });

  test("another in-app function → another hash; a changed system frame does not matter", async () => {
    const a = await fromEnvelope("sentry-node-11-exception.a");
    const frames = () => ((a.exception as { values: Event[] }).values[0]!.stacktrace as { frames: Event[] }).frames;
    const base = groupingHash(a);
    const inApp = frames().findIndex((f) => f.in_app === true);
    const system = frames().findIndex((f) => f.in_app === false);
    const sys = clone(a);
    ((sys.exception as { values: Event[] }).values[0]!.stacktrace as { frames: Event[] }).frames[system]!.function = "Module._somethingElse";
    expect(groupingHash(sys)).toBe(base);
    const app = clone(a);
    ((app.exception as { values: Event[] }).values[0]!.stacktrace as { frames: Event[] }).frames[inApp]!.function = "otherHandler";
    expect(groupingHash(app)).not.toBe(base);
  });

  test("without in_app marks all frames count", () => {
    const ev = (fn: string): Event => ({
      exception: {
        values: [
          {
            type: "E",
            value: "v",
            stacktrace: {
              frames: [
                { function: fn, filename: "a.js" },
                { function: "top", filename: "b.js" },
              ],
            },
          },
        ],
      },
    });
    expect(groupingHash(ev("x"))).not.toBe(groupingHash(ev("y")));
  });

  test("exception without frames: type and value decide", () => {
    const ev = (type: string, value: string): Event => ({ exception: { values: [{ type, value }] } });
    expect(groupingHash(ev("E", "a"))).toBe(groupingHash(ev("E", "a")));
    expect(groupingHash(ev("E", "a"))).not.toBe(groupingHash(ev("E", "b")));
    expect(groupingHash(ev("E", "a"))).not.toBe(groupingHash(ev("F", "a")));
  });

  test("message-only events: the message decides", async () => {
    const a = await fromJson("message-only");
    const b = { ...clone(a), message: "Payment provider timed out after 60s" };
    expect(groupingHash(a)).not.toBe(groupingHash(b));
    expect(groupingHash({ ...clone(a), event_id: "x", timestamp: 1 })).toBe(groupingHash(a));
  });

  test("message templates: params do not split a group", async () => {
    const a = await fromWire("python-sdk-logentry.a");
    const b = clone(a);
    (b.logentry as Event).params = [99, "insufficient funds"];
    (b.logentry as Event).formatted = "Invoice 99 could not be charged: insufficient funds";
    expect(groupingHash(b)).toBe(groupingHash(a));
    const legacy = await fromJson("raven-python-message");
    expect(groupingHash({ ...clone(legacy), message: "Reminder mail to 78 users failed" })).toBe(groupingHash(legacy));
    expect(groupingHash({ message: { formatted: "x 1", message: "x %s" } })).toBe(groupingHash({ logentry: { message: "x %s" } }));
  });

  test("sentry.interfaces.* (raven-python): the side stacktrace belongs to the single exception", async () => {
    const a = await fromJson("raven-python-interfaces");
    const otherValue = clone(a);
    (otherValue["sentry.interfaces.Exception"] as { values: Event[] }).values[0]!.value = "'amount'";
    otherValue.message = "KeyError: 'amount'";
    expect(groupingHash(otherValue)).toBe(groupingHash(a));
    const otherStack = clone(a);
    (otherStack["sentry.interfaces.Stacktrace"] as { frames: Event[] }).frames[1]!.function = "subtotal";
    expect(groupingHash(otherStack)).not.toBe(groupingHash(a));
    const moved = clone(a);
    (moved["sentry.interfaces.Stacktrace"] as { frames: Event[] }).frames[0]!.lineno = 90;
    (moved["sentry.interfaces.Stacktrace"] as { frames: Event[] }).frames[0]!.abs_path = "/srv/shop/releases/20140309/shop/views.py";
    expect(groupingHash(moved)).toBe(groupingHash(a));
  });

  test("top-level stacktrace beats the message; culprit, transaction, constant fallbacks", () => {
    const stack = { frames: [{ function: "f", module: "m" }] };
    expect(groupingHash({ message: "a", stacktrace: stack })).toBe(groupingHash({ message: "b", stacktrace: stack }));
    expect(groupingHash({ culprit: "views.a" })).not.toBe(groupingHash({ culprit: "views.b" }));
    expect(groupingHash({ transaction: "/a" })).not.toBe(groupingHash({ transaction: "/b" }));
    expect(groupingHash({})).toBe(groupingHash({ event_id: "x", level: "error" }));
    expect(groupingHash({ message: "x" })).not.toBe(groupingHash({ culprit: "x" }));
  });

  test("malformed shapes never throw", () => {
    for (const e of [
      { exception: "x" },
      { exception: [null, 1] },
      { exception: { values: "x" } },
      { exception: { values: [{ stacktrace: { frames: [null, "x", 1] } }] } },
      { stacktrace: { frames: {} } },
      { message: 5, logentry: [] },
      { fingerprint: "x" },
      { fingerprint: [1, null, { a: 1 }] },
    ]) {
      expect(Number.isSafeInteger(groupingHash(e))).toBe(true);
    }
  });
});

describe("fingerprint", () => {
  test("custom fingerprint overrides the stack: different errors collide", () => {
    const a = { fingerprint: ["db-down"], exception: { values: [{ type: "A", value: "1" }] } };
    const b = { fingerprint: ["db-down"], message: "totally different" };
    expect(groupingHash(a)).toBe(groupingHash(b));
    expect(groupingHash(a)).not.toBe(groupingHash({ ...a, fingerprint: ["db-slow"] }));
  });

  test("{{ default }} combines with the default hash", async () => {
    const a = await fromJson("fingerprint");
    const withoutFp = { ...clone(a), fingerprint: undefined };
    expect(groupingHash(a)).not.toBe(groupingHash(withoutFp));
    const otherStack = clone(a);
    ((otherStack.exception as { values: Event[] }).values[0]!.stacktrace as { frames: Event[] }).frames[0]!.function = "refund";
    expect(groupingHash(otherStack)).not.toBe(groupingHash(a));
    const shifted = clone(a);
    ((shifted.exception as { values: Event[] }).values[0]!.stacktrace as { frames: Event[] }).frames[0]!.lineno = 999;
    expect(groupingHash(shifted)).toBe(groupingHash(a));
  });

  test('["{{ default }}"] alone is the default grouping; spacing variants too', async () => {
    const a = await fromJson("message-only");
    expect(groupingHash({ ...a, fingerprint: ["{{ default }}"] })).toBe(groupingHash(a));
    expect(groupingHash({ ...a, fingerprint: ["{{default}}"] })).toBe(groupingHash(a));
    expect(groupingHash({ ...a, fingerprint: [] })).toBe(groupingHash(a));
  });

  test("a fingerprint entry cannot be confused with the message", () => {
    expect(groupingHash({ fingerprint: ["x"] })).not.toBe(groupingHash({ message: "x" }));
  });
});

describe("getFloodKey", () => {
  const path = "/api/1/store/";
  const data = encodeURIComponent(JSON.stringify({ message: "boom", event_id: "a".repeat(32) }));

  test("client-describing params are ignored, the rest kept", () => {
    const a = getFloodKey(`${path}?sentry_version=7&sentry_client=raven-js%2F3.27.2&sentry_key=${"a".repeat(32)}&sentry_data=${data}`);
    const b = getFloodKey(`${path}?sentry_version=6&sentry_client=raven-js%2F3.26.0&sentry_key=${"a".repeat(32)}&sentry_data=${data}`);
    expect(a).toBe(b);
    expect(Number.isSafeInteger(a)).toBe(true);
  });

  test("sentry_data, key, path and other params distinguish", () => {
    const base = `${path}?sentry_key=${"a".repeat(32)}&sentry_data=${data}`;
    const k = getFloodKey(base);
    expect(getFloodKey(base.replace("boom", "bang"))).not.toBe(k);
    expect(getFloodKey(base.replace("a".repeat(32), "b".repeat(32)))).not.toBe(k);
    expect(getFloodKey(base.replace("/api/1/", "/api/2/"))).not.toBe(k);
    expect(getFloodKey(`${base}&x=1`)).not.toBe(k);
    expect(getFloodKey("/api/1/store/")).toBe(getFloodKey("/api/1/store/"));
    expect(getFloodKey("/api/1/store/?sentry_version=7")).toBe(getFloodKey("/api/1/store/?"));
  });
});

describe("the grouping input, as written for the hash", () => {
  /** Records what the walk feeds the hash, separators shown as |, /, ; and < >. */
  class Recorder {
    text = "";
    char(c: number): void {
      this.text += ({ 1: "|", 2: "/", 3: ";", 4: "<default>", 5: "<count>" } as Record<number, string>)[c] ?? String.fromCharCode(c);
    }
    push(s: string): void {
      this.text += s;
    }
  }
  const written = (event: Event): string => {
    const r = new Recorder();
    writeGroupingKey(event, { char: (c) => r.char(c), text: (s) => r.push(s) });
    return r.text;
  };
  const frames = [
    { module: "django.core.handlers", function: "inner", lineno: 55 },
    { filename: "/srv/app/shop/views.3f2a1b9c77.js?v=2", function: "post", in_app: true, lineno: 212 },
  ];

  test("exceptions: type and in-app frames (module, else the file's base name without its hash), never line numbers", () => {
    expect(written({ exception: { values: [{ type: "KeyError", value: "'a'", stacktrace: { frames } }] } })).toBe("eKeyError|views.js|post/;");
  });

  test("without frames the value counts; a message, a culprit, or nothing", () => {
    expect(written({ exception: { values: [{ type: "KeyError", value: "'a'" }] } })).toBe("eKeyError|'a';");
    expect(written({ logentry: { message: "user %s failed", formatted: "user 7 failed" } })).toBe("muser %s failed");
    expect(written({ culprit: "views.post" })).toBe("cviews.post");
    expect(written({})).toBe("-");
  });

  test("a fingerprint with {{ default }} embeds the default input; only {{ default }} is the default alone", () => {
    const event = { message: "boom", fingerprint: ["checkout", "{{ default }}", 3] };
    expect(written(event)).toBe("f;checkout;<default>mboom;3");
    expect(written({ message: "boom", fingerprint: ["{{ default }}"] })).toBe("mboom");
  });

  test("the hash is the hash of exactly that input, seeded by the project", () => {
    const event = { exception: { values: [{ type: "KeyError", stacktrace: { frames } }] } };
    const input = "eKeyError\u0001views.js\u0001post\u0002\u0003";
    expect(groupingHash(event, 9)).toBe(hash53(input, 9));
    expect(groupingHash(event, 10)).not.toBe(groupingHash(event, 9));
  });
});

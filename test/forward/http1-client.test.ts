import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket, TCPSocketListener } from "bun";
import { createHttp1Client, Http1NetworkError, type Http1Client } from "../../src/forward/http1/client.ts";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";

const KEY = "0123456789abcdef0123456789abcdef";
const sentryHeaders = {
  "x-sentry-auth": `Sentry sentry_key=${KEY}, sentry_version=7, sentry_client=cyclops-test/1`,
  "content-type": "application/json",
  "content-encoding": "gzip",
  "user-agent": "cyclops/test",
};
const eventBody = (eventId: string) => Bun.gzipSync(new TextEncoder().encode(JSON.stringify({ event_id: eventId, message: "hello" })));
const eventId = () => crypto.randomUUID().replace(/-/g, "");
const text = (b: Uint8Array) => new TextDecoder().decode(b);

let client: Http1Client;
afterEach(() => client?.close());

describe("http1 client against the fake Sentry", () => {
  let sentry: FakeSentry;
  beforeAll(async () => {
    sentry = await startFakeSentry({ keys: { 1: [KEY] } });
  });
  afterAll(() => sentry.stop());

  test("delivers events over few keep-alive connections, and reads Sentry's refusals and limits", async () => {
    sentry.reset();
    client = createHttp1Client({ maxConnections: 4 });
    const ids = Array.from({ length: 40 }, eventId);
    const answers = await Promise.all(ids.map((id) => client.post(`${sentry.url}/api/1/store/`, sentryHeaders, eventBody(id))));
    expect(answers.map((a) => a.status)).toEqual(ids.map(() => 200));
    expect(sentry.violations).toEqual([]);
    expect(sentry.received.map((r) => (r.json as { event_id: string }).event_id).sort()).toEqual([...ids].sort());
    // 40 requests, never more than 4 connections: the pool bounds them and reuses them.
    expect(client.connections()).toBeLessThanOrEqual(4);
    expect(sentry.maxInFlight).toBeLessThanOrEqual(4);

    sentry.setBehaviour({ rateLimit: { retryAfter: 30, header: "30:error:key" } });
    const limited = await client.post(`${sentry.url}/api/1/store/`, sentryHeaders, eventBody(eventId()));
    expect(limited.status).toBe(429);
    expect(limited.headers.get("X-Sentry-Rate-Limits")).toBe("30:error:key");
    sentry.setBehaviour({});

    const wrongKey = await client.post(`${sentry.url}/api/2/store/`, sentryHeaders, eventBody(eventId()));
    expect(wrongKey.status).toBe(403);
    expect(text(wrongKey.body)).toContain("detail");
  });

  test("a connection Sentry drops without answering fails that request as a network error, and the next one goes through", async () => {
    sentry.reset();
    client = createHttp1Client({ maxConnections: 1 });
    sentry.setBehaviour({ reset: 1 });
    const lost = client.post(`${sentry.url}/api/1/store/`, sentryHeaders, eventBody(eventId()));
    await expect(lost).rejects.toBeInstanceOf(Http1NetworkError);
    await lost.catch(() => {});
    const ok = await client.post(`${sentry.url}/api/1/store/`, sentryHeaders, eventBody(eventId()));
    expect(ok.status).toBe(200);
  });
});

/** A raw TCP server that answers each request as `script` says; it counts connections and requests. */
function rawServer(script: (socket: Socket<{ n: number }>, request: number) => void): {
  listener: TCPSocketListener<{ n: number }>;
  url: string;
  connections: () => number;
  requests: () => number;
} {
  let connections = 0;
  let requests = 0;
  const listener = Bun.listen<{ n: number }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        connections++;
        s.data = { n: 0 };
      },
      data(s, chunk) {
        // Requests here are small: one chunk holds one whole request.
        if (!Buffer.from(chunk).toString("latin1").startsWith("POST ")) return;
        requests++;
        script(s, ++s.data.n);
      },
    },
  });
  return { listener, url: `http://127.0.0.1:${listener.port}/api/1/store/`, connections: () => connections, requests: () => requests };
}

const OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

describe("http1 client with bodies larger than a socket takes at once", () => {
  test("each arrives whole while others are framed in the client's reused buffer meanwhile", async () => {
    // The server reads each body slowly, so the client's writes stop part-way and resume on drain.
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      maxRequestBodySize: 64 << 20,
      fetch: async (req) => {
        const reader = req.body!.getReader();
        const hash = new Bun.CryptoHasher("sha256");
        await Bun.sleep(20);
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          hash.update(r.value);
          await Bun.sleep(1);
        }
        return new Response(hash.digest("hex"));
      },
    });
    try {
      // The reused buffer raised to 16 MiB, so frames the socket cannot take at once share it.
      client = createHttp1Client({ maxConnections: 4, reusedFrameBytes: 16 << 20 });
      // Large and small; more requests than connections.
      const sizes = [12 << 20, 4 << 20, ...Array.from({ length: 12 }, () => 63 << 10)];
      const bodies = sizes.map((size, n) => new Uint8Array(size).map((_, i) => (i * (n + 1)) & 0xff));
      const answers = await Promise.all(bodies.map((b) => client.post(`http://127.0.0.1:${server.port}/big`, {}, b)));
      const expected = bodies.map((b) => new Bun.CryptoHasher("sha256").update(b).digest("hex"));
      expect(answers.map((a) => text(a.body))).toEqual(expected);
    } finally {
      server.stop(true);
    }
  });
});

describe("http1 client against a raw TCP server", () => {
  const servers: TCPSocketListener<{ n: number }>[] = [];
  const serve = (script: Parameters<typeof rawServer>[0]) => {
    const s = rawServer(script);
    servers.push(s.listener);
    return s;
  };
  afterAll(() => servers.forEach((s) => s.stop(true)));

  test("a chunked answer", async () => {
    const s = serve((sock) => sock.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
    client = createHttp1Client({ maxConnections: 2 });
    const res = await client.post(s.url, {}, new Uint8Array(3));
    expect(text(res.body)).toBe("abc");
    expect((await client.post(s.url, {}, new Uint8Array(3))).status).toBe(200);
    expect(s.connections()).toBe(1);
  });

  test("a reset mid-request and a half answer are network errors", async () => {
    const reset = serve((sock) => sock.terminate());
    client = createHttp1Client({ maxConnections: 2 });
    const err = await client.post(reset.url, {}, new Uint8Array(3)).catch((e) => e);
    expect(err).toBeInstanceOf(Http1NetworkError);

    const half = serve((sock) => {
      sock.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
      sock.end();
    });
    const halfErr = await client.post(half.url, {}, new Uint8Array(3)).catch((e) => e);
    expect(halfErr).toBeInstanceOf(Http1NetworkError);
    expect(halfErr.message).toContain("mid-response");
  });

  test("a malformed answer is a network error, not a status", async () => {
    const s = serve((sock) => sock.write("HTTP/1.1 OK\r\n\r\n"));
    client = createHttp1Client({ maxConnections: 1 });
    const err = await client.post(s.url, {}, new Uint8Array(1)).catch((e) => e);
    expect(err).toBeInstanceOf(Http1NetworkError);
    expect(err.code).toBe("HTTP_PARSE");
  });

  test("an answer read until close, and Connection: close, each take a new connection for the next request", async () => {
    const s = serve((sock) => {
      if (s.requests() === 1) sock.end("HTTP/1.1 500 Oops\r\n\r\nbroken");
      else sock.write("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
    });
    client = createHttp1Client({ maxConnections: 1 });
    const first = await client.post(s.url, {}, new Uint8Array(1));
    expect([first.status, text(first.body)]).toEqual([500, "broken"]);
    expect((await client.post(s.url, {}, new Uint8Array(1))).status).toBe(200);
    expect((await client.post(s.url, {}, new Uint8Array(1))).status).toBe(200);
    expect(s.connections()).toBe(3);
  });

  test("a keep-alive connection the server closed while idle is replaced; the request is sent once", async () => {
    const s = serve((sock) => {
      sock.write(OK);
      // The server drops idle connections soon after answering, as nginx's keepalive_timeout does.
      setTimeout(() => sock.end(), 20);
    });
    client = createHttp1Client({ maxConnections: 1 });
    expect((await client.post(s.url, {}, new Uint8Array(1))).status).toBe(200);
    await Bun.sleep(100);
    expect((await client.post(s.url, {}, new Uint8Array(1))).status).toBe(200);
    expect([s.connections(), s.requests()]).toEqual([2, 2]);
  });

  test("an idle connection past the idle timeout is retired before the server's would", async () => {
    const s = serve((sock) => sock.write(OK));
    client = createHttp1Client({ maxConnections: 1, idleTimeoutMs: 30 });
    await client.post(s.url, {}, new Uint8Array(1));
    await client.post(s.url, {}, new Uint8Array(1));
    expect(s.connections()).toBe(1);
    await Bun.sleep(60);
    await client.post(s.url, {}, new Uint8Array(1));
    expect(s.connections()).toBe(2);
  });

  test("a server that never answers: the request ends with the signal's reason, and its connection is not reused", async () => {
    const s = serve((sock, n) => {
      if (n > 1 || s.connections() > 1) sock.write(OK);
    });
    client = createHttp1Client({ maxConnections: 1 });
    const reason = await client.post(s.url, {}, new Uint8Array(1), AbortSignal.timeout(50)).catch((e) => e);
    expect((reason as Error).name).toBe("TimeoutError");
    expect((await client.post(s.url, {}, new Uint8Array(1), AbortSignal.timeout(5000))).status).toBe(200);
    expect(s.connections()).toBe(2);
  });

  test("requests beyond the bound wait for a connection; a waiting request can be aborted", async () => {
    let held: Socket<{ n: number }>[] = [];
    const s = serve((sock) => held.push(sock));
    client = createHttp1Client({ maxConnections: 2 });
    const inFlight = [1, 2, 3].map(() => client.post(s.url, {}, new Uint8Array(1)));
    const abort = new AbortController();
    const waiting = client.post(s.url, {}, new Uint8Array(1), abort.signal);
    await Bun.sleep(50);
    expect([s.connections(), s.requests(), client.connections()]).toEqual([2, 2, 2]);
    abort.abort(new Error("stopped"));
    await expect(waiting).rejects.toThrow("stopped");
    // Answer what is held until all three in-flight requests are answered on the two connections.
    while (s.requests() < 3 || held.length > 0) {
      const sockets = held;
      held = [];
      for (const sock of sockets) sock.write(OK);
      await Bun.sleep(10);
    }
    expect((await Promise.all(inFlight)).map((r) => r.status)).toEqual([200, 200, 200]);
    expect([s.connections(), s.requests()]).toEqual([2, 3]);
  });

  test("a refused connection is a network error with its code", async () => {
    const s = serve(() => {});
    const url = s.url;
    s.listener.stop(true);
    client = createHttp1Client({ maxConnections: 1 });
    const err = await client.post(url, {}, new Uint8Array(1)).catch((e) => e);
    expect(err).toBeInstanceOf(Http1NetworkError);
    expect(err.code).toBe("ECONNREFUSED");
  });
});

describe("http1 client over TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "cyclops-http1-tls-"));
  const made = Bun.spawnSync(
    [
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost",
    ],
    { stdout: "ignore", stderr: "ignore" },
  );
  const haveCert = made.exitCode === 0 && existsSync(join(dir, "cert.pem"));
  if (!haveCert) console.warn("skipping TLS tests: openssl could not make a self-signed certificate");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.skipIf(!haveCert)("posts over https to a server whose certificate it trusts, and refuses one whose name or issuer it does not", async () => {
    const cert = readFileSync(join(dir, "cert.pem"), "utf8");
    const key = readFileSync(join(dir, "key.pem"), "utf8");
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert, key },
      maxRequestBodySize: 64 << 20,
      fetch: async (req) => new Response(`got ${(await req.arrayBuffer()).byteLength}`),
    });
    try {
      client = createHttp1Client({ maxConnections: 2, tls: { ca: cert } });
      const res = await client.post(`https://localhost:${server.port}/api/1/store/`, {}, new Uint8Array(5));
      expect([res.status, text(res.body)]).toEqual([200, "got 5"]);
      // Bodies TLS cannot take at once (the rest is written on drain from a copy), two at a time.
      const big = await Promise.all([12 << 20, 9 << 20].map((n) => client.post(`https://localhost:${server.port}/api/1/store/`, {}, new Uint8Array(n).fill(7))));
      expect(big.map((r) => text(r.body))).toEqual([`got ${12 << 20}`, `got ${9 << 20}`]);

      // The certificate names localhost, not 127.0.0.1.
      const wrongName = await client.post(`https://127.0.0.1:${server.port}/api/1/store/`, {}, new Uint8Array(5)).catch((e) => e);
      expect(wrongName).toBeInstanceOf(Http1NetworkError);
      expect(wrongName.message).toStartWith("TLS");

      const untrusting = createHttp1Client({ maxConnections: 1 });
      const unknownIssuer = await untrusting.post(`https://localhost:${server.port}/api/1/store/`, {}, new Uint8Array(5)).catch((e) => e);
      untrusting.close();
      expect(unknownIssuer).toBeInstanceOf(Http1NetworkError);
      expect(unknownIssuer.message).toStartWith("TLS");
    } finally {
      server.stop(true);
    }
  });
});

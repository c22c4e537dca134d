/**
 * How much client CPU one request to Sentry costs: N POSTs of bench/payloads/event.json (gzipped,
 * as the forwarder sends it) at 32 in flight to the fake upstream in another process, sent
 * (a) with fetch, (b) with a minimal HTTP/1.1 keep-alive client on Bun.connect (32 connections,
 * one request at a time each), (c) with cyclops's client (src/forward/http1/). Rounds alternate
 * the clients, since the machine is shared; each line is one round. CPU is this process's
 * process.cpuUsage() delta (user + system) over N.
 *
 *   bun bench/upstream-client.ts [--n 20000] [--rounds 3] [--in-flight 32]
 */
import { createHttp1Client } from "../src/forward/http1/client.ts";
import { startFakeUpstream, LOAD_CORE, SERVER_CORE } from "./lib/servers.ts";
import { stopAll } from "./lib/proc.ts";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const N = arg("--n", 20_000);
const ROUNDS = arg("--rounds", 3);
const IN_FLIGHT = arg("--in-flight", 32);

const body = Bun.gzipSync(new Uint8Array(await Bun.file("bench/payloads/event.json").arrayBuffer()), { level: 1 });
const headers: Record<string, string> = {
  "x-sentry-auth": "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7, sentry_client=sentry.python/2.0.0",
  "content-type": "application/json",
  "content-encoding": "gzip",
  "user-agent": "cyclops/bench",
};

type Sender = (url: string) => Promise<number>;

/** Runs N requests with IN_FLIGHT workers; returns CPU µs per request and requests/s. */
async function measure(send: Sender, url: string): Promise<{ cpuUs: number; rps: number }> {
  let next = 0;
  let failed = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < N) {
        next++;
        if ((await send(url)) !== 200) failed++;
      }
    }),
  );
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (failed) throw new Error(`${failed} requests did not answer 200`);
  return { cpuUs: (cpu.user + cpu.system) / N, rps: (N / ms) * 1000 };
}

const viaFetch: Sender = async (url) => {
  const res = await fetch(url, { method: "POST", headers, body, redirect: "manual" });
  await res.arrayBuffer();
  return res.status;
};

/** The smallest keep-alive client that can answer the question: no timeouts, no chunked, no TLS. */
function minimalClient(host: string, port: number, connections: number): { send: Sender; close(): void } {
  const enc = new TextEncoder();
  const idle: Conn[] = [];
  const waiting: Array<(c: Conn) => void> = [];
  const all: Conn[] = [];
  interface Conn {
    socket: import("bun").Socket<Conn> | null;
    ready: Promise<void>;
    buf: Uint8Array;
    pending: Uint8Array | null;
    resolve: ((status: number) => void) | null;
  }
  const concat = (a: Uint8Array, b: Uint8Array) => {
    // Bun may reuse the buffer it hands to data(): keep a copy.
    if (a.length === 0) return b.slice();
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  const tryParse = (c: Conn) => {
    const buf = c.buf;
    let end = -1;
    for (let i = 3; i < buf.length; i++)
      if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) {
        end = i + 1;
        break;
      }
    if (end < 0) return;
    const head = new TextDecoder().decode(buf.subarray(0, end));
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const len = m ? Number(m[1]) : 0;
    if (buf.length < end + len) return;
    c.buf = buf.subarray(end + len);
    const status = Number(head.slice(9, 12));
    const r = c.resolve!;
    c.resolve = null;
    release(c);
    r(status);
  };
  const release = (c: Conn) => {
    const w = waiting.shift();
    if (w) w(c);
    else idle.push(c);
  };
  for (let i = 0; i < connections; i++) {
    const c: Conn = { socket: null, ready: Promise.resolve(), buf: new Uint8Array(0), pending: null, resolve: null };
    c.ready = Bun.connect<Conn>({
      hostname: host,
      port,
      data: c,
      socket: {
        data(s, chunk) {
          s.data.buf = concat(s.data.buf, chunk);
          tryParse(s.data);
        },
        drain(s) {
          const p = s.data.pending;
          if (!p) return;
          const n = s.write(p);
          s.data.pending = n < p.length ? p.subarray(n) : null;
        },
      },
    }).then((s) => {
      c.socket = s;
    });
    all.push(c);
    idle.push(c);
  }
  const send: Sender = async (url) => {
    const c = idle.pop() ?? (await new Promise<Conn>((r) => waiting.push(r)));
    await c.ready;
    const path = url.slice(url.indexOf("/", 8));
    let head = `POST ${path} HTTP/1.1\r\nhost: ${host}:${port}\r\n`;
    for (const k in headers) head += `${k}: ${headers[k]}\r\n`;
    head += `content-length: ${body.length}\r\n\r\n`;
    const req = concat(enc.encode(head), body);
    return new Promise<number>((resolve) => {
      c.resolve = resolve;
      const n = c.socket!.write(req);
      if (n < req.length) c.pending = req.subarray(n);
    });
  };
  return { send, close: () => all.forEach((c) => c.socket?.end()) };
}

// The client under test runs on the server core, the fake upstream on the other, as in bench/run.ts.
if (!process.env.CYCLOPS_BENCH_PINNED) {
  const child = Bun.spawn(["taskset", "-c", SERVER_CORE, process.execPath, ...process.argv.slice(1)], {
    env: { ...process.env, CYCLOPS_BENCH_PINNED: "1" },
    stdio: ["inherit", "inherit", "inherit"],
  });
  process.exit(await child.exited);
}

const fake = await startFakeUpstream(0, 0, LOAD_CORE);
try {
  const url = `${fake.url}/api/1/store/`;
  const minimal = minimalClient("127.0.0.1", fake.port, IN_FLIGHT);
  const ours = createHttp1Client({ maxConnections: IN_FLIGHT });
  // One signal shared by all requests, as the forwarder's shared deadlines (timeouts.ts) give.
  const shared = new AbortController().signal;
  const viaOurs: Sender = async (u) => (await ours.post(u, headers, body, shared)).status;
  const clients: Array<[string, Sender]> = [
    ["fetch", viaFetch],
    ["minimal Bun.connect", minimal.send],
    ["src/forward/http1", viaOurs],
  ];
  // Warm-up: connections open, JIT settles.
  for (const [, send] of clients) await measure(send, url);
  const totals = new Map<string, { cpu: number[]; rps: number[] }>(clients.map(([name]) => [name, { cpu: [], rps: [] }]));
  console.log(`${N} requests of ${body.length} B (gzipped event.json) at ${IN_FLIGHT} in flight, client CPU per request`);
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate the order so no client always runs first after the other's garbage.
    const order = round % 2 ? clients : [...clients].reverse();
    for (const [name, send] of order) {
      const r = await measure(send, url);
      totals.get(name)!.cpu.push(r.cpuUs);
      totals.get(name)!.rps.push(r.rps);
      console.log(`round ${round}  ${name.padEnd(20)} ${r.cpuUs.toFixed(1).padStart(6)} µs/request  ${Math.round(r.rps).toString().padStart(6)} requests/s`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(totals.get("fetch")!.cpu);
  for (const [name, t] of totals) {
    console.log(
      `median ${name.padEnd(20)} ${median(t.cpu).toFixed(1).padStart(6)} µs/request (${(median(t.cpu) / base).toFixed(2)}x fetch)  ${Math.round(median(t.rps))} requests/s`,
    );
  }
  minimal.close();
  ours.close();
} finally {
  await fake.stop();
  await stopAll();
}

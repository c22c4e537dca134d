/**
 * The yardstick every cyclops figure is divided by: the least a Bun HTTP server must do to take an
 * event — read the body, JSON.parse it, keep it in a bounded in-memory array, answer {"id": …}.
 * No auth, no flood cut, no routing beyond Bun.serve's. Started by bench/run.ts on core 0 exactly
 * as cyclops is; prints "baseline listening on port N" on stderr when ready.
 *
 *   bun bench/baseline.ts [--port N]   (0 or absent: any free port)
 */
const CAPACITY = 100_000;
const ring: Uint8Array[] = new Array(CAPACITY);
let next = 0;
const decoder = new TextDecoder();
const JSON_HEADERS = { "Content-Type": "application/json" };

const portArg = process.argv.indexOf("--port");
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;

const server = Bun.serve({
  port,
  hostname: "127.0.0.1",
  async fetch(req) {
    if (req.method !== "POST") return new Response("ok");
    const body = new Uint8Array(await req.arrayBuffer());
    const event = JSON.parse(decoder.decode(body)) as { event_id?: unknown };
    ring[next] = body;
    next = next + 1 === CAPACITY ? 0 : next + 1;
    const id = typeof event.event_id === "string" ? event.event_id : crypto.randomUUID().replace(/-/g, "");
    return new Response(`{"id":"${id}"}`, { headers: JSON_HEADERS });
  },
});

process.stderr.write(`baseline listening on http://127.0.0.1:${server.port} (port ${server.port})\n`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});

export {};

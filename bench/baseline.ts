/**
 * The yardstick every cyclops figure is divided by: the least a Bun HTTP server must do to take an
 * event — read the body, JSON.parse it, keep it, answer {"id": …}. It keeps every body it is given
 * (nothing drains), as cyclops's queue does in the ingest runs: a bounded ring would recycle its
 * memory while cyclops's queue cannot, which flattered it (issue 17).
 * No auth, no flood cut, no routing beyond Bun.serve's. Started by bench/run.ts on core 0 exactly
 * as cyclops is; prints "baseline listening on port N" on stderr when ready.
 *
 *   bun bench/baseline.ts [--port N]   (0 or absent: any free port)
 */
const kept: Uint8Array[] = [];
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
    kept.push(body);
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

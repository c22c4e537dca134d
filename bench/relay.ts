/**
 * The yardstick for delivery: the least a relay in front of Sentry must do. Bun.serve reads the
 * body and JSON.parses it, keeps it in an array, answers {"id"}; a pump sends the array's bodies
 * to the upstream with 32 `fetch`es in flight. No auth, no flood cut, no compression, no retry.
 * Started by bench/run.ts on core 0 exactly as cyclops is.
 *
 *   bun bench/relay.ts --upstream http://127.0.0.1:PORT [--port N]
 *
 * GET /count answers {"count": queued, "delivered": n} (the fields of cyclops's /count the bench reads).
 */
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const upstream = `${arg("--upstream") ?? "http://127.0.0.1:9000"}/api/1/store/`;
const IN_FLIGHT = 32;
const queue: Uint8Array[] = [];
const decoder = new TextDecoder();
const JSON_HEADERS = { "Content-Type": "application/json" };
let inFlight = 0;
let delivered = 0;

async function sendOne(body: Uint8Array): Promise<void> {
  try {
    const res = await fetch(upstream, { method: "POST", headers: JSON_HEADERS, body });
    await res.arrayBuffer();
    if (res.ok) delivered++;
  } catch {
    // a relay this small drops what fails
  }
}

function pump(): void {
  while (inFlight < IN_FLIGHT && queue.length > 0) {
    inFlight++;
    void sendOne(queue.pop()!).finally(() => {
      inFlight--;
      pump();
    });
  }
}

const server = Bun.serve({
  port: Number(arg("--port") ?? 0),
  hostname: "127.0.0.1",
  async fetch(req) {
    if (req.method !== "POST") return Response.json({ count: queue.length, delivered, processed: 0, ignored: 0 });
    const body = new Uint8Array(await req.arrayBuffer());
    const event = JSON.parse(decoder.decode(body)) as { event_id?: unknown };
    queue.push(body);
    pump();
    const id = typeof event.event_id === "string" ? event.event_id : crypto.randomUUID().replace(/-/g, "");
    return new Response(`{"id":"${id}"}`, { headers: JSON_HEADERS });
  },
});

process.stderr.write(`relay listening on http://127.0.0.1:${server.port} (port ${server.port})\n`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});

export {};

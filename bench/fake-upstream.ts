/**
 * A stand-in Sentry for the forwarding benchmarks. It answers every POST 200 {"id": …} after an
 * imposed latency of `base + perInFlight × inFlight` ms (inFlight counts this request), the simplest
 * model of a server that queues work: idle it answers in base + perInFlight, and every extra
 * concurrent request slows everyone down. It reports the latency it imposed (p50/p99), so the
 * pacing comparison reads "Sentry's" latency from Sentry's side.
 *
 *   bun bench/fake-upstream.ts [--port N] [--base-ms B] [--per-inflight-ms P]
 *
 * Control (for bench/run.ts):
 *   POST /__hold      stop answering (requests wait) until /__release — lets the runner fill
 *                     cyclops's queue without it draining
 *   POST /__release   answer the held requests and resume
 *   POST /__reset     forget recorded latencies and counts
 *   GET  /__stats     {"count","p50_ms","p99_ms","max_in_flight","in_flight"}
 */
function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const baseMs = arg("--base-ms", 0);
const perInFlightMs = arg("--per-inflight-ms", 0);
const JSON_HEADERS = { "Content-Type": "application/json" };

let inFlight = 0;
let maxInFlight = 0;
let imposed: number[] = [];
let count = 0;
let held: Array<() => void> | null = null;

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function ingest(req: Request): Promise<Response> {
  inFlight++;
  if (inFlight > maxInFlight) maxInFlight = inFlight;
  try {
    await req.arrayBuffer();
    if (held) await new Promise<void>((resolve) => held!.push(resolve));
    const latency = baseMs + perInFlightMs * inFlight;
    if (latency > 0) await Bun.sleep(latency);
    imposed.push(latency);
    count++;
    return new Response(`{"id":"${crypto.randomUUID().replace(/-/g, "")}"}`, { headers: JSON_HEADERS });
  } finally {
    inFlight--;
  }
}

const server = Bun.serve({
  port: arg("--port", 0),
  hostname: "127.0.0.1",
  fetch(req) {
    const path = new URL(req.url).pathname;
    switch (path) {
      case "/__hold":
        held ??= [];
        return new Response("held");
      case "/__release": {
        const waiting = held ?? [];
        held = null;
        for (const resolve of waiting) resolve();
        return new Response(`released ${waiting.length}`);
      }
      case "/__reset":
        imposed = [];
        count = 0;
        maxInFlight = inFlight;
        return new Response("reset");
      case "/__stats": {
        const sorted = Float64Array.from(imposed).sort();
        const list = Array.from(sorted);
        return Response.json({ count, p50_ms: percentile(list, 50), p99_ms: percentile(list, 99), max_in_flight: maxInFlight, in_flight: inFlight });
      }
    }
    if (req.method === "POST") return ingest(req);
    return new Response("not found", { status: 404 });
  },
});

process.stderr.write(`fake upstream listening on http://127.0.0.1:${server.port} (port ${server.port})\n`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});

export {};

/**
 * The floor under cyclops's ingest: bench/baseline.ts plus only the work a Sentry gateway with
 * cyclops's features cannot skip per report, each done the cheapest way found, nothing else
 * (no config, no stats, no metrics, no spike protection, no error paths, no budget):
 *
 *   - the route and the project id from the URL (string compares, as src/server/routes.ts);
 *   - the headers that decide how to read the report (X-Sentry-Auth, Content-Type,
 *     Content-Encoding, X-Forwarded-For) and the key looked up by its header text;
 *   - the client's address (server.requestIP: one getpeername), forwarded to Sentry;
 *   - a strict UTF-8 decode and JSON.parse (as the baseline), the event id, and Sentry's grouping
 *     (the real src/protocol/grouping.ts) for the flood key, counted in a Map;
 *   - the report copied into 1 MiB slabs it keeps (the baseline keeps each body as it came);
 *   - Sentry's answer with the headers an SDK and the original's scripts read (CORS, X-CYCLOPS-*).
 *
 * It shows how near the baseline any gateway with these features can come on Bun: its ratio to
 * the baseline, in the same run, bounds what cyclops's own can be (bench/run.ts, scenario
 * "floor"). It answers only the bench's key and store requests; anything else is a 400.
 *
 *   bun bench/floor.ts [--port N]   (0 or absent: any free port)   [FLOOR_SKIP=ip,grouping,…]
 */
import { groupingHash } from "../src/protocol/grouping.ts";

/**
 * Steps to leave out, to measure what each costs (comma-separated): ip (no peer address),
 * fatal (a lenient decoder), grouping (a constant flood key), floodmap (no counting), resp (the
 * baseline's one answer header).
 */
const SKIP = new Set((process.env.FLOOR_SKIP ?? "").split(","));
const JSON_ONLY = new Headers({ "Content-Type": "application/json" });
const plain = new TextDecoder();
const portArg = process.argv.indexOf("--port");
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;
const KEY_HEADER = "Sentry sentry_version=7, sentry_client=bench/1.0, sentry_key=0123456789abcdef0123456789abcdef";
const keys = new Map<string, number>([[KEY_HEADER, 1]]);
const floods = new Map<number, number>();
/** The client addresses of the last reports: kept as a queued report keeps its own. */
const addresses: (string | null)[] = new Array(1024).fill(null);
let served = 0;
const decoder = new TextDecoder("utf-8", { fatal: true });
const ANSWER_HEADERS = new Headers({
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Expose-Headers": "x-sentry-error, x-sentry-rate-limits, retry-after, x-cyclops-status, x-cyclops-cache-count",
  "Content-Type": "application/json",
  "X-CYCLOPS-STATUS": "PROCESSED",
  "X-CYCLOPS-CACHE-COUNT": "0",
});

const SLAB = 1 << 20;
const slabs: Uint8Array[] = [new Uint8Array(SLAB)];
let used = 0;
function keep(body: Uint8Array): void {
  if (used + body.byteLength > SLAB) {
    slabs.push(new Uint8Array(SLAB));
    used = 0;
  }
  slabs[slabs.length - 1]!.set(body, used);
  used += body.byteLength;
}

const server = Bun.serve({
  port,
  hostname: "127.0.0.1",
  async fetch(req, srv) {
    const url = req.url;
    const path = url.indexOf("/", url.indexOf("://") + 3);
    if (req.method !== "POST" || !url.startsWith("/api/", path)) return new Response("ok");
    const project = Number(url.slice(path + 5, url.indexOf("/", path + 5)));
    const headers = req.headers;
    const key = keys.get(headers.get("x-sentry-auth") ?? "");
    if (key !== project || headers.get("content-encoding") !== null || headers.get("content-type") === "application/x-sentry-envelope") {
      return new Response('{"detail":"unexpected"}', { status: 400 });
    }
    const ip = SKIP.has("ip") ? null : (headers.get("x-forwarded-for") ?? srv.requestIP(req)?.address ?? null);
    const body = new Uint8Array(await req.arrayBuffer());
    const event = JSON.parse((SKIP.has("fatal") ? plain : decoder).decode(body)) as Record<string, unknown>;
    const flood = SKIP.has("grouping") ? 1 : groupingHash(event, project);
    if (!SKIP.has("floodmap")) floods.set(flood, (floods.get(flood) ?? 0) + 1);
    keep(body);
    const id = typeof event.event_id === "string" ? event.event_id : "";
    addresses[served++ & 1023] = ip;
    return new Response(`{"id":"${id}"}`, { headers: SKIP.has("resp") ? JSON_ONLY : ANSWER_HEADERS });
  },
});

process.stderr.write(`floor listening on http://127.0.0.1:${server.port} (port ${server.port})\n`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});

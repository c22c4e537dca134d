/**
 * Server time of /status for 1,000 projects (the bar: ≤ 300 ms): every project busy in
 * every minute of the hour (three lines in each chart), 20 in a drop episode with five titles,
 * rate limits on 50. Times the whole request through Hono (snapshot, render, response body),
 * the page and its live fragment, and prints the median, p90 and max of 50 runs and the bytes.
 *
 *   bun bench/status.ts [projects]
 */
import { Hono } from "hono";
import { EpisodeDetector } from "../src/alerts/detector.ts";
import { History } from "../src/status/history.ts";
import { mountStatus } from "../src/status/routes.ts";
import { statusSnapshot } from "../src/status/snapshot.ts";

const PROJECTS = Number(process.argv[2] ?? 1000);
const RUNS = 50;
const now = Date.now();

let clock = now - 59 * 60_000;
const history = new History(() => clock);
const detector = new EpisodeDetector(10, 300_000);
const per = new Map<number, { processed: number; delivered: number }>();
for (let minute = 0; minute < 60; minute++) {
  clock = now - (59 - minute) * 60_000;
  for (let id = 1; id <= PROJECTS; id++) {
    const p = per.get(id) ?? { processed: 0, delivered: 0 };
    p.processed += 10 + ((id * minute) % 37);
    p.delivered += 9 + ((id + minute) % 29);
    per.set(id, p);
    history.drop(id, minute % 2 ? "flood" : "sampled", 1 + ((id + minute) % 13));
  }
  history.sample(per);
}
clock = now;
for (let id = 1; id <= 20; id++) {
  for (let i = 0; i < 50; i++) detector.drop(id, "flood", "error", { exception: { values: [{ type: "TypeError", value: `<b>undefined</b> is not a function #${i % 5}` }] } }, now);
}

const app = new Hono();
mountStatus(app, null, () =>
  statusSnapshot({
    instance: "bench/1",
    history,
    now: () => clock,
    episodes: () => detector.active(),
    queue: () => ({ storage: "memory", items: 1234, bytes: 5_000_000, maxItems: 100_000, maxBytes: 268_435_456, oldestAgeSeconds: 12 }),
    upstream: () => ({ url: "http://sentry.example.com", state: "up", p50: 12.3, p99: 240, inFlight: 4, pacing: "adaptive", maxConcurrency: 32 }),
    rateLimit: (id, category) => (id % 20 === 0 && category === "error" ? { retryAfter: 60 } : null),
    keys: () => ({ size: PROJECTS, ageSeconds: 30, lastError: null, sources: ["postgres"] }),
    farm: () => [{ id: "bench/1", seenAt: now }],
  }),
);

async function time(path: string): Promise<{ median: number; p90: number; max: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < RUNS + 5; i++) {
    const t0 = performance.now();
    const res = await app.fetch(new Request(`http://127.0.0.1${path}`));
    const body = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    if (i >= 5) times.push(ms); // the first runs warm the JIT
    bytes = body.length;
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(RUNS / 2)]!, p90: times[Math.floor(RUNS * 0.9)]!, max: times[RUNS - 1]!, bytes };
}

for (const path of ["/status", "/status?fragment=1", "/status?format=json"]) {
  const r = await time(path);
  console.log(
    `${path.padEnd(22)} ${PROJECTS} projects: median ${r.median.toFixed(1)} ms, p90 ${r.p90.toFixed(1)} ms, max ${r.max.toFixed(1)} ms, ${(r.bytes / 1024).toFixed(0)} KiB`,
  );
}

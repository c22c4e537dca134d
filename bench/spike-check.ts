/**
 * Cost per report of spike protection's check (SpikeLimiter.check), in process: 1,000 projects
 * under their limits, with and without an error-group key, and one project in an episode. Prints
 * ns per check and the heap grown per check (0 means the hot path does not allocate).
 *
 *   bun bench/spike-check.ts [--reports 5000000]
 */
import { SpikeLimiter } from "../src/spike/limiter.ts";

const argv = process.argv.slice(2);
const i = argv.indexOf("--reports");
const N = i >= 0 ? Number(argv[i + 1]) : 5_000_000;
const PROJECTS = 1000;
// Flood keys are 53-bit hashes (src/protocol/grouping.ts).
const keys = Array.from({ length: PROJECTS * 20 }, (_, k) => Math.floor(Math.random() * 2 ** 53) + k);

function run(name: string, limiter: SpikeLimiter, project: (n: number) => number, key: (n: number) => number | null, step: number): void {
  const start = 1_767_571_200_000;
  for (let n = 0; n < 200_000; n++) limiter.check(project(n), "error", key(n), start + n * step); // warm up, create lanes
  Bun.gc(true);
  const heap = process.memoryUsage().heapUsed;
  const t0 = Bun.nanoseconds();
  let sink = 0;
  for (let n = 0; n < N; n++) sink += limiter.check(project(n), "error", key(n), start + (200_000 + n) * step);
  const ns = (Bun.nanoseconds() - t0) / N;
  const grown = process.memoryUsage().heapUsed - heap;
  console.log(`${name.padEnd(44)} ${ns.toFixed(0).padStart(5)} ns/check  heap +${(grown / N).toFixed(2)} B/check  (${sink % 7})`);
}

// Steady: each project at ~60/min across 1,000 projects = 1,000 reports a second; limits learned, nothing over.
run(
  "1,000 projects under the limit, no key",
  new SpikeLimiter({ mode: "enforce", floor: 600 }),
  (n) => n % PROJECTS,
  () => null,
  1,
);
run(
  "1,000 projects under the limit, group key",
  new SpikeLimiter({ mode: "enforce", floor: 600 }),
  (n) => n % PROJECTS,
  (n) => keys[n % keys.length]!,
  1,
);
// One project at 1,000 reports a second against a floor of 60 a minute: in an episode throughout.
run(
  "1 project in an episode (dropping), group key",
  new SpikeLimiter({ mode: "enforce", floor: 60 }),
  () => 1,
  (n) => keys[(n % 20) * PROJECTS + 1]!,
  1,
);

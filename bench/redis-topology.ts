/**
 * Ingest on one Redis against a Redis Cluster, and the Redis round trips per accepted report
 * (bench/lib/redis-topology.ts); prints the table docs/BENCHMARKS.md gets from `npm run bench`
 * (scenario `redis-topology`).
 *
 *   bun bench/redis-topology.ts [--events 20000] [--conns 64]
 */
import { stopAll } from "./lib/proc.ts";
import { redisTopology } from "./lib/redis-topology.ts";
import { topologySection } from "./lib/report-redis.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};

try {
  const results = await redisTopology({ events: arg("--events", 20_000), conns: arg("--conns", 64) }, (s) => console.error(s));
  console.log(topologySection(results).join("\n"));
} finally {
  await stopAll();
}

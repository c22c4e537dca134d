/**
 * Ingest on Redis storage and counters: one Redis against a Redis Cluster of 3 masters (with and
 * without REDIS_WAIT_REPLICAS 1 on 3 masters + 3 replicas), and the commands clients sent Redis
 * per accepted report (from INFO commandstats: the scripts, SADD, WAIT and the key that routes it;
 * not the commands the scripts run inside). An upper bound on round trips, since auto-pipelined
 * commands share them.
 *
 *   bun bench/redis-topology.ts [--events 20000] [--conns 64]
 *
 * Not part of `npm run bench`: a short run, reported in docs/REDIS.md with the load average.
 */
import { loadavg } from "node:os";
import { Redis } from "ioredis";
import { startPrivateCluster } from "../test/helpers/redis-cluster.ts";
import { postEvents } from "./lib/client.ts";
import { eventTemplate } from "./lib/payloads.ts";
import { stopAll } from "./lib/proc.ts";
import { baseConfig, closedPort, count, startCyclops, startRedis } from "./lib/servers.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const events = arg("--events", 20_000);
const conns = arg("--conns", 64);

/** What the gateway sends (the rest of INFO commandstats is what the scripts run inside). */
const CLIENT_COMMANDS = new Set(["evalsha", "eval", "sadd", "smembers", "wait", "exists", "cluster"]);

/** Commands each server has run, by command name. */
async function commandStats(ports: number[]): Promise<Map<string, number>> {
  const total = new Map<string, number>();
  for (const port of ports) {
    const c = new Redis({ host: "127.0.0.1", port, lazyConnect: true });
    await c.connect();
    for (const [, name, calls] of (await c.info("commandstats")).matchAll(/cmdstat_(\w+):calls=(\d+)/g)) total.set(name!, (total.get(name!) ?? 0) + Number(calls));
    c.disconnect();
  }
  return total;
}

async function measure(label: string, redis: Record<string, unknown>, masters: number[]): Promise<void> {
  const server = await startCyclops(baseConfig({ STORAGE: "redis", CACHE_IMPLEMENTATION_CLASS: "redis", SENTRY_BASE_URL: `http://127.0.0.1:${closedPort()}`, ...redis }));
  try {
    const template = eventTemplate();
    await postEvents(server, template, 500, conns); // warm-up
    const before = await commandStats(masters);
    const started = performance.now();
    const accepted = await postEvents(server, template, events, conns);
    const seconds = (performance.now() - started) / 1000;
    const after = await commandStats(masters);
    const sent = [...after]
      .filter(([k]) => CLIENT_COMMANDS.has(k))
      .map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const)
      .filter(([, v]) => v > 0);
    const commands = sent.reduce((a, [, v]) => a + v, 0);
    const top = sent.map(([k, v]) => `${k} ${v}`).join(", ");
    const processed = (await count(server)).processed;
    console.log(
      `${label}: ${accepted}/${events} accepted (${processed} processed in all), ${Math.round(accepted / seconds)} reports/s, ` +
        `${(commands / accepted).toFixed(3)} commands sent per accepted report (${top})`,
    );
  } finally {
    await server.stop();
  }
}

console.log(
  `load average before: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")} (${events} events, ${conns} connections)`,
);
const single = await startRedis();
try {
  await measure("single Redis", { REDIS_PORT: single.port }, [single.port]);
} finally {
  await single.stop();
}
for (const [replicas, wait] of [
  [0, 0],
  [1, 1],
] as const) {
  const cluster = await startPrivateCluster(3, replicas);
  try {
    if (replicas > 0) await cluster.waitReplicated();
    const masters = [...new Set(await Promise.all([0, 5461, 10923].map((s) => cluster.masterOf(s))))];
    await measure(
      `cluster 3 masters + ${3 * replicas} replicas, REDIS_WAIT_REPLICAS ${wait}`,
      { REDIS_CLUSTER: cluster.seeds.map((n) => `127.0.0.1:${n.port}`), REDIS_WAIT_REPLICAS: wait },
      masters,
    );
  } finally {
    await cluster.stop();
  }
}
console.log(
  `load average after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
await stopAll();

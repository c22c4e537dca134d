/**
 * Ingest on Redis storage and counters: one Redis against a Redis Cluster of 3 masters (with and
 * without REDIS_WAIT_REPLICAS 1 on 3 masters + 3 replicas), and the commands clients sent Redis
 * per accepted report (from INFO commandstats: the scripts, SADD, WAIT and the key that routes it;
 * not the commands the scripts run inside). Shared by bench/redis-topology.ts and run.ts.
 */
import { startPrivateCluster, type PrivateCluster } from "../../test/helpers/redis-cluster.ts";
import { postEvents } from "./client.ts";
import { commandStats, roundTrips, sentBetween } from "./redis-commands.ts";
import { eventTemplate } from "./payloads.ts";
import { loadAvg } from "./proc.ts";
import { baseConfig, closedPort, count, startCyclops, startRedis } from "./servers.ts";

export interface TopologySetup {
  events: number;
  conns: number;
}

export interface TopologyResult {
  label: string;
  cluster: boolean;
  accepted: number;
  events: number;
  /** /count's processed after the run, warm-up included. */
  processed: number;
  perSecond: number;
  /** Commands the gateway sent, by name, during the measured run. */
  sent: Array<[string, number]>;
  commandsPerReport: number;
  /** Commands less the EXISTS that shares WAIT's pipeline: an upper bound, auto-pipelined commands share round trips too. */
  roundTripsPerReport: number;
}

export interface TopologyResults {
  setup: TopologySetup;
  loadBefore: string;
  loadAfter: string;
  runs: Array<TopologyResult | { label: string; failed: string }>;
}

async function measure(label: string, redis: Record<string, unknown>, masters: number[], cluster: boolean, setup: TopologySetup): Promise<TopologyResult> {
  const server = await startCyclops(baseConfig({ STORAGE: "redis", CACHE_IMPLEMENTATION_CLASS: "redis", SENTRY_BASE_URL: `http://127.0.0.1:${closedPort()}`, ...redis }));
  try {
    const template = eventTemplate();
    await postEvents(server, template, 500, setup.conns); // warm-up
    const before = await commandStats(masters);
    const started = performance.now();
    const accepted = await postEvents(server, template, setup.events, setup.conns);
    const seconds = (performance.now() - started) / 1000;
    const after = await commandStats(masters);
    const sent = sentBetween(before, after);
    const commands = sent.reduce((a, [, v]) => a + v, 0);
    const per = (x: number) => (accepted > 0 ? x / accepted : NaN);
    const processed = (await count(server)).processed;
    return {
      label,
      cluster,
      accepted,
      events: setup.events,
      processed,
      perSecond: accepted / seconds,
      sent,
      commandsPerReport: per(commands),
      roundTripsPerReport: per(roundTrips(sent, cluster)),
    };
  } finally {
    await server.stop();
  }
}

/** The cluster's nodes are the helper's processes, not proc.ts's: killed on exit (Ctrl-C) too. */
async function withCluster<T>(replicas: number, f: (c: PrivateCluster) => Promise<T>): Promise<T> {
  const cluster = await startPrivateCluster(3, replicas);
  const kill = () => cluster.nodes.forEach((n) => n.proc.kill(9));
  process.once("exit", kill);
  try {
    return await f(cluster);
  } finally {
    process.off("exit", kill);
    await cluster.stop();
  }
}

const firstLine = (e: unknown) =>
  String((e as Error)?.message ?? e)
    .split("\n")[0]!
    .slice(0, 300);

/** One Redis, a cluster of 3 masters, then 3 masters + 3 replicas with REDIS_WAIT_REPLICAS 1; a failed topology is recorded and the next runs. */
export async function redisTopology(setup: TopologySetup, log: (s: string) => void = () => {}): Promise<TopologyResults> {
  const out: TopologyResults = { setup, loadBefore: loadAvg(), loadAfter: "", runs: [] };
  const attempt = async (label: string, f: () => Promise<TopologyResult>) => {
    log(`redis topology: ${label}`);
    try {
      const r = await f();
      log(
        `    ${r.accepted}/${r.events} accepted, ${Math.round(r.perSecond)} reports/s, ${r.commandsPerReport.toFixed(3)} commands, ${r.roundTripsPerReport.toFixed(3)} round trips per report`,
      );
      out.runs.push(r);
    } catch (e) {
      log(`    failed: ${firstLine(e)}`);
      out.runs.push({ label, failed: firstLine(e) });
    }
  };
  await attempt("one Redis", async () => {
    const single = await startRedis();
    try {
      return await measure("one Redis", { REDIS_PORT: single.port }, [single.port], false, setup);
    } finally {
      await single.stop();
    }
  });
  for (const replicas of [0, 1]) {
    const label = replicas ? "cluster, 3 masters + 3 replicas, REDIS_WAIT_REPLICAS 1" : "cluster, 3 masters";
    await attempt(label, () =>
      withCluster(replicas, async (cluster) => {
        if (replicas > 0) await cluster.waitReplicated();
        const masters = [...new Set(await Promise.all([0, 5461, 10923].map((s) => cluster.masterOf(s))))];
        const seeds = cluster.seeds.map((n) => `127.0.0.1:${n.port}`);
        return measure(label, { REDIS_CLUSTER: seeds, REDIS_WAIT_REPLICAS: replicas }, masters, true, setup);
      }),
    );
  }
  out.loadAfter = loadAvg();
  return out;
}

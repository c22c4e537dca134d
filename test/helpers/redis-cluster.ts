/**
 * A private Redis Cluster for the tests that break one (a master killed -9, a cluster in fail
 * state, slots moved): its own redis-server processes on free ports (each with its bus port,
 * port + 10000, free too), in a temporary directory, gone after stop(). The shared cluster of
 * .ci/services.sh stays untouched.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";

export interface ClusterNode {
  port: number;
  proc: ReturnType<typeof Bun.spawn>;
}

export interface PrivateCluster {
  nodes: ClusterNode[];
  seeds: { host: string; port: number }[];
  /** A client on one node (the caller disconnects it). */
  node(port: number): Redis;
  /** The port of the master serving `slot`. */
  masterOf(slot: number): Promise<number>;
  /** Starts a stopped node again on its port and nodes.conf (it rejoins, as a replica after a failover). */
  restart(port: number): void;
  /** Waits until every master serving slots has at least one replica in sync. */
  waitReplicated(timeoutMs?: number): Promise<void>;
  /** Waits until every node of `ports` (default: every running node) reports cluster_state `state`. */
  waitState(state: "ok" | "fail", ports?: number[], timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const portFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });

/** `count` ports p with p and p + 10000 free, from a random start in 20000-29000. */
async function freeClusterPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let p = 20000 + Math.floor(Math.random() * 9000); ports.length < count && p < 30000; p++) {
    if ((await portFree(p)) && (await portFree(p + 10000))) ports.push(p);
  }
  return ports;
}

async function until(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error(`redis cluster: ${what} within ${timeoutMs} ms`);
    await Bun.sleep(100);
  }
}

/** Starts `masters` masters with `replicasEach` replicas each; resolves once the cluster is ok. */
export async function startPrivateCluster(masters: number, replicasEach: number): Promise<PrivateCluster> {
  const dir = mkdtempSync(join(tmpdir(), "cyclops-cluster-"));
  const ports = await freeClusterPorts(masters * (1 + replicasEach));
  const spawn = (port: number) =>
    Bun.spawn(
      [
        "redis-server",
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        `nodes-${port}.conf`,
        "--cluster-node-timeout",
        "1000",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "no",
        "--logfile",
        `redis-${port}.log`,
      ],
      { stdout: "ignore", stderr: "ignore" },
    );
  const nodes: ClusterNode[] = ports.map((port) => ({ port, proc: spawn(port) }));
  // The error listener: a node not up yet refuses, and connect() rejects with that already.
  const node = (port: number) => new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null }).on("error", () => {});
  const ask = async <T>(port: number, op: (c: Redis) => Promise<T>): Promise<T> => {
    const c = node(port);
    try {
      await c.connect();
      return await op(c);
    } finally {
      c.disconnect();
    }
  };
  const stateOf = (port: number) => ask(port, async (c) => /cluster_state:(\w+)/.exec(await c.cluster("INFO"))?.[1]);
  const alive = () => nodes.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null);
  const stop = async () => {
    for (const n of nodes) n.proc.kill(9);
    await Promise.all(nodes.map((n) => n.proc.exited));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const { port } of nodes) await until(async () => (await ask(port, (c) => c.ping())) === "PONG", 10_000, `node ${port} answering`);
    const create = Bun.spawn(["redis-cli", "--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", String(replicasEach), "--cluster-yes"], {
      stdout: "ignore",
      stderr: "pipe",
    });
    if ((await create.exited) !== 0) throw new Error(`redis-cli --cluster create failed: ${await new Response(create.stderr).text()}`);
    const cluster: PrivateCluster = {
      nodes,
      seeds: ports.map((port) => ({ host: "127.0.0.1", port })),
      node,
      masterOf: (slot) =>
        ask(ports[0]!, async (c) => {
          const range = (await c.cluster("SLOTS")).find(([from, to]) => slot >= from && slot <= to);
          if (!range?.[2]) throw new Error(`slot ${slot} has no master`);
          return range[2][1];
        }),
      restart: (port) => {
        const n = nodes.find((x) => x.port === port)!;
        n.proc = spawn(port);
      },
      waitReplicated: (timeoutMs = 30_000) =>
        until(
          async () => {
            const ranges = await ask(alive()[0]!.port, (c) => c.cluster("SLOTS"));
            const masters = [...new Set(ranges.map((r) => r[2]![1]))];
            const links = await Promise.all(masters.map((p) => ask(p, (c) => c.info("replication"))));
            return links.every((info) => /slave0:.*state=online/.test(info));
          },
          timeoutMs,
          "every master with a replica online",
        ),
      waitState: (state, which = alive().map((n) => n.port), timeoutMs = 20_000) =>
        until(async () => (await Promise.all(which.map(stateOf))).every((s) => s === state), timeoutMs, `cluster_state ${state}`),
      stop,
    };
    await cluster.waitState("ok");
    return cluster;
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * The one place ioredis connections are configured, shared by the Redis queue and the Redis
 * counters, so both fail fast the same way while Redis is down and reconnect by themselves: a
 * single Redis, or a Redis Cluster when REDIS_CLUSTER names seed nodes.
 */
import calculateSlot from "cluster-key-slot";
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import type { Config } from "../config/schema.ts";
import { defineScripts, SCRIPTS, type RedisClient } from "./scripts.ts";
import { ensureTracingHasSubscribers } from "./tracing-channel.ts";

ensureTracingHasSubscribers();

export interface RedisNode {
  host: string;
  port: number;
}

export interface RedisSettings {
  host: string;
  port: number;
  db: number;
  password: string | null;
  /** Namespace of every key (REDIS_KEY_PREFIX), so several farms can share one Redis. */
  prefix: string;
  /** Seed nodes of a Redis Cluster (REDIS_CLUSTER); empty for the single Redis at host:port. */
  cluster: RedisNode[];
}

export function redisSettings(config: Config): RedisSettings {
  return {
    host: config.REDIS_HOST,
    port: config.REDIS_PORT,
    db: config.REDIS_DB_COUNT,
    password: config.REDIS_PASSWORD,
    prefix: config.REDIS_KEY_PREFIX,
    cluster: config.REDIS_CLUSTER.map(parseNode),
  };
}

/** "host:port" (the schema has checked the shape). */
export function parseNode(hostPort: string): RedisNode {
  const at = hostPort.lastIndexOf(":");
  return { host: hostPort.slice(0, at), port: Number(hostPort.slice(at + 1)) };
}

const retryDelay = (attempt: number): number => Math.min(50 * 2 ** Math.min(attempt, 6), 2000);

/**
 * Fail fast instead of queueing commands while disconnected (a request must get its answer now,
 * not after a reconnect), retry the connection forever with a capped backoff, and batch concurrent
 * commands into shared round trips (auto-pipelining).
 */
export function redisOptions(s: RedisSettings): RedisOptions {
  return {
    host: s.host,
    port: s.port,
    db: s.db,
    password: s.password ?? undefined,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    enableAutoPipelining: true,
    // Already one command per project and event-loop turn (RedisQueue.pushCounted batches
    // itself): through the auto-pipeline it was also wrapped in a pipeline and its bodies copied.
    autoPipeliningIgnoredCommands: [SCRIPTS.countPushBatch.command],
    connectTimeout: 2000,
    retryStrategy: retryDelay,
    lazyConnect: false,
  };
}

/**
 * The same on a cluster. ioredis follows MOVED and ASK (resharding), retries TRYAGAIN (a
 * multi-key script during a slot's migration), CLUSTERDOWN and a lost master's connection
 * (failover: its replica takes over within cluster-node-timeout) every `retryDelayOn*` ms, up
 * to maxRedirections times; after that the command fails and the client is answered 429 (and
 * retries). Each CLUSTERDOWN retry first re-reads the slots, which waits up to
 * slotsRefreshTimeout on a hung node: 6 tries keep a failed cluster's answer to seconds.
 */
export function clusterOptions(s: RedisSettings): ClusterOptions {
  const { host: _h, port: _p, db: _d, enableOfflineQueue: _o, retryStrategy: _r, autoPipeliningIgnoredCommands, ...node } = redisOptions(s);
  return {
    enableOfflineQueue: false,
    // The ready check's CLUSTER INFO is itself refused while not ready when the offline queue is
    // off, so about one connection in ten went round its reconnect loop for a second or more. A
    // cluster in fail state answers CLUSTERDOWN to the commands instead (then 429).
    enableReadyCheck: false,
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands,
    maxRedirections: 6,
    retryDelayOnMoved: 0,
    retryDelayOnFailover: 250,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 1000,
    clusterRetryStrategy: retryDelay,
    redisOptions: node,
  };
}

/** A connected client (single or cluster) plus what /healthcheck should say about it. */
export class RedisConnection {
  readonly client: RedisClient;
  private lastError: string | null = null;
  private ready = false;

  constructor(readonly settings: RedisSettings) {
    this.client = settings.cluster.length > 0 ? new Cluster(settings.cluster, clusterOptions(settings)) : new Redis(redisOptions(settings));
    defineScripts(this.client);
    this.client.on("ready", () => {
      this.ready = true;
      this.lastError = null;
    });
    // Without a listener ioredis prints every failed reconnect; the state is read via problem().
    this.client.on("error", (e: Error) => {
      this.lastError = e.message;
    });
    this.client.on("node error", (e: Error) => {
      this.lastError = e.message;
    });
    this.client.on("close", () => {
      this.ready = false;
    });
  }

  get isCluster(): boolean {
    return this.client instanceof Cluster;
  }

  /** True when commands can be sent now; otherwise they would be refused. */
  get isReady(): boolean {
    return this.ready && this.client.status === "ready";
  }

  problem(): string | null {
    if (this.isReady) return null;
    const s = this.settings;
    const where = s.cluster.length > 0 ? `Redis Cluster at ${s.cluster.map((n) => `${n.host}:${n.port}`).join(",")}` : `Redis at ${s.host}:${s.port}`;
    return this.lastError ? `${where} unavailable: ${this.lastError}` : `${where} not connected`;
  }

  /**
   * Waits until `replicas` replicas have every write sent so far on the connections holding
   * `keys` (Redis WAIT, one per master: on a cluster each key's slot names its master). Resolves
   * with the fewest replicas any of them confirmed within `timeoutMs`.
   */
  async waitForReplicas(keys: readonly string[], replicas: number, timeoutMs: number): Promise<number> {
    const client = this.client;
    if (!(client instanceof Cluster)) return Number(await client.call("WAIT", replicas, timeoutMs));
    const byMaster = new Map<string, string>();
    for (const key of keys) {
      const master = client.slots[calculateSlot(key)]?.[0] ?? key;
      if (!byMaster.has(master)) byMaster.set(master, key);
    }
    // A key-less command goes to a random node; in a pipeline it goes where the pipeline's key does.
    const acks = await Promise.all(
      [...byMaster.values()].map(async (key) => {
        const replies = await client.pipeline().exists(key).call("WAIT", replicas, timeoutMs).exec();
        const [error, count] = replies?.[1] ?? [new Error("WAIT got no reply"), 0];
        if (error) throw error;
        return Number(count);
      }),
    );
    return Math.min(...acks);
  }

  /** Resolves once connected (startup and tests); rejects after `timeoutMs`. */
  waitReady(timeoutMs = 5000): Promise<void> {
    if (this.isReady) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.client.off("ready", onReady);
        reject(new Error(this.problem() ?? "Redis not ready"));
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      this.client.once("ready", onReady);
    });
  }

  async close(): Promise<void> {
    this.ready = false;
    if (this.client.status === "end") return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}

/**
 * Test settings for the Redis-backed stores on either topology (the single Redis or the local
 * cluster), and cleanup of every key a test prefix created, via keys.ts's patterns.
 */
import { Cluster, Redis } from "ioredis";
import { keyPatterns } from "../../src/redis/keys.ts";
import type { RedisSettings } from "../../src/redis/connection.ts";
import { CLUSTER_SEEDS, SERVICE_HOST, SERVICE_PORTS, uniqueName } from "../helpers/services.ts";

export type Topology = "single" | "cluster";

export function testRedisSettings(prefix = uniqueName("cyclops_test"), topology: Topology = "single"): RedisSettings {
  return { host: SERVICE_HOST, port: SERVICE_PORTS.redis, db: 0, password: null, prefix, cluster: topology === "cluster" ? CLUSTER_SEEDS : [] };
}

/** Runs `op` on every node that holds keys: the single Redis, or each master of the cluster. */
async function onEveryMaster<T>(topology: Topology, op: (node: Redis) => Promise<T>): Promise<T[]> {
  if (topology === "single") {
    const client = new Redis({ host: SERVICE_HOST, port: SERVICE_PORTS.redis, lazyConnect: true });
    try {
      await client.connect();
      return [await op(client)];
    } finally {
      client.disconnect();
    }
  }
  const cluster = new Cluster(CLUSTER_SEEDS, { lazyConnect: true });
  try {
    await cluster.connect();
    return await Promise.all(cluster.nodes("master").map(op));
  } finally {
    cluster.disconnect();
  }
}

async function scanKeys(node: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for (const pattern of keyPatterns(prefix)) {
    let cursor = "0";
    do {
      const [next, found] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== "0");
  }
  return keys;
}

export async function deleteRedisPrefix(prefix: string, topology: Topology = "single"): Promise<number> {
  const deleted = await onEveryMaster(topology, async (node) => {
    const keys = await scanKeys(node, prefix);
    // One key per DEL: a node holds many slots, and a multi-key DEL across slots is CROSSSLOT.
    await Promise.all(keys.map((k) => node.del(k)));
    return keys.length;
  });
  return deleted.reduce((a, b) => a + b, 0);
}

/** Keys currently held under a prefix (to check cleanup and expiry). */
export async function countRedisKeys(prefix: string, topology: Topology = "single"): Promise<number> {
  const counts = await onEveryMaster(topology, async (node) => (await scanKeys(node, prefix)).length);
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * A Redis-backed store on a fresh test prefix, connected, with the cleanup that closes it and
 * deletes everything under the prefix: the setup every Redis contract run shares.
 */
export async function onFreshPrefix<T extends { waitReady(timeoutMs?: number): Promise<void>; close(): Promise<void> }>(
  make: (settings: RedisSettings) => T,
  topology: Topology = "single",
): Promise<{ made: T; cleanup: () => Promise<void> }> {
  const settings = testRedisSettings(undefined, topology);
  const made = make(settings);
  await made.waitReady();
  return {
    made,
    cleanup: async () => {
      await made.close();
      await deleteRedisPrefix(settings.prefix, topology);
    },
  };
}

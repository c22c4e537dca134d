/** Deletes every key a test prefix created (queue and flood counters), via keys.ts's patterns. */
import { Redis } from "ioredis";
import { keyPatterns } from "../../src/redis/keys.ts";
import type { RedisSettings } from "../../src/redis/connection.ts";
import { SERVICE_HOST, SERVICE_PORTS, uniqueName } from "../helpers/services.ts";

export function testRedisSettings(prefix = uniqueName("cyclops_test")): RedisSettings {
  return { host: SERVICE_HOST, port: SERVICE_PORTS.redis, db: 0, password: null, prefix };
}

export async function deleteRedisPrefix(prefix: string): Promise<number> {
  const client = new Redis({ host: SERVICE_HOST, port: SERVICE_PORTS.redis, lazyConnect: true });
  let deleted = 0;
  try {
    await client.connect();
    for (const pattern of keyPatterns(prefix)) {
      let cursor = "0";
      do {
        const [next, keys] = await client.scan(cursor, "MATCH", pattern, "COUNT", 1000);
        cursor = next;
        if (keys.length > 0) deleted += await client.del(...keys);
      } while (cursor !== "0");
    }
  } finally {
    client.disconnect();
  }
  return deleted;
}

/** Keys currently held under a prefix (to check cleanup and expiry). */
export async function countRedisKeys(prefix: string): Promise<number> {
  const client = new Redis({ host: SERVICE_HOST, port: SERVICE_PORTS.redis, lazyConnect: true });
  try {
    await client.connect();
    let n = 0;
    for (const pattern of keyPatterns(prefix)) n += (await client.keys(pattern)).length;
    return n;
  } finally {
    client.disconnect();
  }
}

/**
 * A Redis-backed store on a fresh test prefix, connected, with the cleanup that closes it and
 * deletes everything under the prefix: the setup every Redis contract run shares.
 */
export async function onFreshPrefix<T extends { waitReady(timeoutMs?: number): Promise<void>; close(): Promise<void> }>(
  make: (settings: RedisSettings) => T,
): Promise<{ made: T; cleanup: () => Promise<void> }> {
  const settings = testRedisSettings();
  const made = make(settings);
  await made.waitReady();
  return {
    made,
    cleanup: async () => {
      await made.close();
      await deleteRedisPrefix(settings.prefix);
    },
  };
}

/**
 * Items queued by a cyclops from before the per-project layout (every key under one tag,
 * `{prefix}:queue:…`), moved into the current layout when an instance starts, so an upgrade loses
 * nothing. One instance of a farm moves them (a lock that expires, so a crash hands the job to the
 * next start). Each item is pushed anew before it leaves the old hash: a crash midway duplicates
 * at most, never loses. Failed-attempt counts start again at 0.
 */
import type { RedisClient } from "../../redis/scripts.ts";
import { decodeItem, type NewItem } from "../item.ts";

/** The old keys, all in the slot of `{prefix}` (so one multi-key DEL is valid on a cluster). */
const legacyKeys = (prefix: string) => {
  const base = `{${prefix}}:queue`;
  return { base, items: `${base}:items`, stats: `${base}:stats`, lock: `${base}:migrating` };
};

/** Moves every old item through `push`; resolves with how many moved (0: none, or another instance is at it). */
export async function migrateLegacyQueue(client: RedisClient, prefix: string, push: (item: NewItem) => Promise<void>): Promise<number> {
  const k = legacyKeys(prefix);
  if ((await client.exists(k.items)) === 0) return 0;
  if ((await client.set(k.lock, "1", "PX", 60_000, "NX")) !== "OK") return 0;
  let moved = 0;
  try {
    let cursor = "0";
    do {
      const [next, flat] = await client.hscanBuffer(k.items, cursor, "COUNT", 100);
      cursor = next.toString();
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const id = flat[i]!.toString();
        await push(decodeItem(id, flat[i + 1]!));
        await client.hdel(k.items, id);
        moved++;
      }
    } while (cursor !== "0");
    const projects = (await client.hkeys(k.stats)).flatMap((f) => /^(\d+):items$/.exec(f)?.[1] ?? []);
    const rest = ["seq", "stats", "ring", "leased", "leases", "attempts"].map((s) => `${k.base}:${s}`);
    await client.del(...rest, ...projects.map((p) => `${k.base}:project:${p}`));
  } finally {
    await client.del(k.lock);
  }
  return moved;
}

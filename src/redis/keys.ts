/**
 * Every Redis key cyclops uses, built here and nowhere else.
 *
 * A project's keys (its queue and its flood counters) share the hash tag `{prefix:project}`, so
 * on Redis Cluster each project lives in one slot and every script, which touches one project
 * only, runs there without CROSSSLOT; the projects spread over the masters. What spans projects
 * is kept out of the scripts (docs/REDIS.md): the farm's list of projects is one set, read by
 * `take` to go round the projects, and the farm's totals are the sum of the projects' totals.
 */
export interface ProjectKeys {
  /** Counter giving the project's item ids. */
  seq: string;
  /** Hash: item id → encoded item (storage/item.ts encodeItem). */
  items: string;
  /** List of queued item ids, oldest first. */
  queue: string;
  /** Hash: id → failed attempts, only for items that have failed at least once. */
  attempts: string;
  /** Hash: "items", "bytes" of the project (leased included). */
  stats: string;
  /** Zset: leased item id → lease expiry (ms, Redis clock). */
  leased: string;
  /** Hash: leased item id → holder token. */
  leases: string;
}

const projectTag = (prefix: string, projectId: number): string => `{${prefix}:${projectId}}`;

export function projectKeys(prefix: string, projectId: number): ProjectKeys {
  const base = `${projectTag(prefix, projectId)}:queue`;
  return {
    seq: `${base}:seq`,
    items: `${base}:items`,
    queue: `${base}:ids`,
    attempts: `${base}:attempts`,
    stats: `${base}:stats`,
    leased: `${base}:leased`,
    leases: `${base}:leases`,
  };
}

/** Set of every project that has had queued items: where `take` looks for work. */
export const projectsKey = (prefix: string): string => `{${prefix}}:queue:projects`;

/**
 * A flood counter. With its project (the queue's one-step flood cut), in the project's slot, so
 * count-push-batch counts and queues in one script; without (the counter store alone: spike,
 * alerts, or floods with another storage), under the farm's own tag.
 */
export const counterKey = (prefix: string, key: number | string, projectId?: number): string =>
  projectId === undefined ? `{${prefix}}:flood:${key}` : `${projectTag(prefix, projectId)}:flood:${key}`;

/** Spike protection's farm counts of one second (src/spike/farm.ts): a hash of `<project>:<lane>:o|a` → count; one key, so one slot. */
export const spikeSecondKey = (prefix: string, second: number): string => `{${prefix}}:spike:${second}`;

/**
 * Spike protection's learned state (src/spike/state-store.ts): with a project, that project's
 * lanes as one JSON string in the project's slot; without, the set of projects that have one
 * (under the farm's tag). Every command touches one key, so each runs in one slot on a cluster.
 */
export const spikeStateKey = (prefix: string, projectId?: number): string =>
  projectId === undefined ? `{${prefix}}:spike:projects` : `${projectTag(prefix, projectId)}:spike:state`;

/** List of reports held while keys load (storage/held/redis.ts), shared by a farm; under the farm's tag, so one slot. */
export const heldKey = (prefix: string): string => `{${prefix}}:held`;

/** Patterns matching every key of a prefix (tests clean up with them). */
export const keyPatterns = (prefix: string): string[] => [`{${prefix}}:*`, `{${prefix}:*}:*`];

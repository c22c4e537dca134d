/**
 * Every Redis key cyclops uses, built here and nowhere else.
 *
 * Every key shares the hash tag `{prefix}`, so on Redis Cluster they all live in one slot and the
 * multi-key scripts can run, including count-push-batch, which counts flood keys and queues the
 * reports in one step.
 */
export interface QueueKeys {
  /** Counter giving item ids. */
  seq: string;
  /** Hash: item id → encoded item (item.ts encodeItem). */
  items: string;
  /** Hash: id → failed attempts, only for items that have failed at least once. */
  attempts: string;
  /** Hash: "items", "bytes", "<project>:items", "<project>:bytes" (leased included). */
  stats: string;
  /** List of project ids with queued items, in round-robin order. */
  ring: string;
  /** Zset: leased item id → lease expiry (ms, Redis clock). */
  leased: string;
  /** Hash: leased item id → "<project>:<holder>". */
  leases: string;
  /** Prefix of a project's list of queued ids; the scripts append the project id. */
  projectPrefix: string;
}

export function queueKeys(prefix: string): QueueKeys {
  const base = `{${prefix}}:queue`;
  return {
    seq: `${base}:seq`,
    items: `${base}:items`,
    attempts: `${base}:attempts`,
    stats: `${base}:stats`,
    ring: `${base}:ring`,
    leased: `${base}:leased`,
    leases: `${base}:leases`,
    projectPrefix: `${base}:project:`,
  };
}

/** A project's list of queued item ids. */
export const projectQueueKey = (keys: QueueKeys, projectId: number): string => `${keys.projectPrefix}${projectId}`;

/** A flood counter. */
export const counterKey = (prefix: string, key: number | string): string => `{${prefix}}:flood:${key}`;

/** Spike protection's farm counts of one second (src/spike/farm.ts): a hash of `<project>:<lane>:o|a` → count. */
export const spikeSecondKey = (prefix: string, second: number): string => `{${prefix}}:spike:${second}`;

/** Patterns matching every key of a prefix (tests clean up with them). */
export const keyPatterns = (prefix: string): string[] => [`{${prefix}}:*`];

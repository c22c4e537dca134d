/** cluster-key-slot (ioredis's own slot hashing) ships no types. */
declare module "cluster-key-slot" {
  /** The Redis Cluster hash slot (0-16383) of a key, honouring `{hash tags}`. */
  function calculateSlot(key: string | Buffer): number;
  export default calculateSlot;
  /** The common slot of every key, or -1 when they differ. */
  export function generateMulti(keys: (string | Buffer)[]): number;
}

/**
 * Flood counters: how many times a key was seen in its current window. memory.ts and redis.ts
 * implement it and both pass test/contracts/counter-store.contract.ts.
 *
 * Window semantics (the original's, without its bug): a fixed window of `windowSeconds` starts at
 * a key's first increment; every increment inside it counts (dropped reports too); when it ends,
 * the next increment starts a new window at 1. A counter always carries its expiry, so no key can
 * be muted forever.
 */
export interface CounterStore {
  readonly kind: "memory" | "redis";
  /** Increments `key` and returns its count in the current window (1 for the first). */
  increment(key: string, windowSeconds: number): number | Promise<number>;
  problem(): string | null;
  /** Shared stores: resolves once connected (rejects after `timeoutMs`). */
  waitReady?(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** One report's part in the flood cut: its key, the window, and the count past which it is dropped. */
export interface FloodCount {
  key: string;
  windowSeconds: number;
  /** MAX_CACHE_USES: a count above it is a flood. */
  maxUses: number;
}

/** Window length in whole milliseconds (at least 1), as the Redis scripts take it. */
export const windowMs = (windowSeconds: number): number => Math.max(1, Math.round(windowSeconds * 1000));

/** The counter store cannot answer (Redis down) and no fallback is configured. */
export class CounterUnavailableError extends Error {
  override name = "CounterUnavailableError";
  constructor(message: string, public readonly retryAfter = 10) {
    super(message);
  }
}

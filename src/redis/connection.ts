/**
 * The one place ioredis connections are configured, shared by the Redis queue and the Redis
 * flood counters, so both fail fast the same way while Redis is down and reconnect by themselves.
 */
import { Redis, type RedisOptions } from "ioredis";
import type { Config } from "../config/schema.ts";
import { defineScripts, SCRIPTS } from "./scripts.ts";
import { ensureTracingHasSubscribers } from "./tracing-channel.ts";

ensureTracingHasSubscribers();

export interface RedisSettings {
  host: string;
  port: number;
  db: number;
  password: string | null;
  /** Namespace of every key (REDIS_KEY_PREFIX), so several farms can share one Redis. */
  prefix: string;
}

export function redisSettings(config: Config): RedisSettings {
  return {
    host: config.REDIS_HOST,
    port: config.REDIS_PORT,
    db: config.REDIS_DB_COUNT,
    password: config.REDIS_PASSWORD,
    prefix: config.REDIS_KEY_PREFIX,
  };
}

/**
 * Fail fast instead of queueing commands while disconnected (a request must get its 503 now, not
 * after a reconnect), retry the connection forever with a capped backoff, and batch concurrent
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
    // Already one command per event-loop turn (RedisQueue.pushCounted batches itself): through
    // the auto-pipeline it was also wrapped in a pipeline and its 2 KB bodies copied once more.
    autoPipeliningIgnoredCommands: [SCRIPTS.countPushBatch.command],
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2000),
    lazyConnect: false,
  };
}

/** A connected client plus what /healthcheck should say about it. */
export class RedisConnection {
  readonly client: Redis;
  private lastError: string | null = null;
  private ready = false;

  constructor(readonly settings: RedisSettings) {
    this.client = new Redis(redisOptions(settings));
    defineScripts(this.client);
    this.client.on("ready", () => {
      this.ready = true;
      this.lastError = null;
    });
    // Without a listener ioredis prints every failed reconnect; the state is read via problem().
    this.client.on("error", (e: Error) => {
      this.lastError = e.message;
    });
    this.client.on("close", () => {
      this.ready = false;
    });
  }

  /** True when commands can be sent now; otherwise they would be refused. */
  get isReady(): boolean {
    return this.ready && this.client.status === "ready";
  }

  problem(): string | null {
    if (this.isReady) return null;
    const where = `Redis at ${this.settings.host}:${this.settings.port}`;
    return this.lastError ? `${where} unavailable: ${this.lastError}` : `${where} not connected`;
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

/**
 * `cyclops check -c conf.json [--print]`: the config, then each dependency it names (key source,
 * storage, Redis, Sentry), one line each, exit 0 only when all pass; like `nginx -t`, run before
 * deploying. `--print` shows the effective config, secrets redacted, with each value's origin.
 */
import { ConfigError, loadConfig, type LoadedConfig } from "../config/load.ts";
import { OPTIONS, SECRET_OPTIONS, type Config, type OptionKey } from "../config/schema.ts";
import { createKeySources } from "../keys/index.ts";
import { describeError, redact } from "../keys/redact.ts";
import { createQueue } from "../storage/index.ts";
import { UsageError, type CliIO } from "./io.ts";

export interface CheckFlags {
  conf?: string;
  print?: boolean;
  timeout: string;
}

interface Check {
  name: string;
  run(): Promise<string>;
}

/** Rejects after `ms`, so a dependency that never answers fails its line instead of hanging. */
function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const usesRedis = (c: Config) => c.STORAGE === "redis" || c.CACHE_IMPLEMENTATION_CLASS === "redis";

function checks(c: Config, timeoutMs: number): Check[] {
  const list: Check[] = [
    {
      name: "keys",
      async run() {
        let total = 0;
        const names: string[] = [];
        for (const source of createKeySources(c, { timeoutMs })) {
          try {
            total += (await source.load()).length;
            names.push(source.name);
          } finally {
            await source.close();
          }
        }
        if (total === 0 && c.RESTRICT_API_ACCESS) throw new Error("no project keys: every report would be answered 401 (cyclops init --dsn <DSN>)");
        return `${total} key${total === 1 ? "" : "s"} from ${names.join(" and ")}`;
      },
    },
    {
      name: "storage",
      async run() {
        const queue = await createQueue(c);
        try {
          await queue.waitReady?.(timeoutMs);
          const stats = await queue.stats();
          const where = c.STORAGE === "sqlite" ? ` at ${c.SQLITE_PATH}` : c.STORAGE === "redis" ? ` at ${c.REDIS_HOST}:${c.REDIS_PORT}` : "";
          return `${c.STORAGE}${where}, ${stats.items} item${stats.items === 1 ? "" : "s"} queued`;
        } finally {
          await queue.close().catch(() => {});
        }
      },
    },
  ];
  if (usesRedis(c)) {
    list.push({
      name: "redis",
      async run() {
        const { RedisConnection, redisSettings } = await import("../redis/connection.ts");
        const connection = new RedisConnection(redisSettings(c));
        try {
          const deadline = Date.now() + timeoutMs;
          while (!connection.isReady && Date.now() < deadline) await Bun.sleep(50);
          if (!connection.isReady) throw new Error(connection.problem() ?? "Redis not connected");
          const info = await connection.client.info("server");
          const where = connection.isCluster ? `Redis Cluster via ${c.REDIS_CLUSTER.join(",")}` : `Redis at ${c.REDIS_HOST}:${c.REDIS_PORT}`;
          return `${where} answers (redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? "?"})`;
        } finally {
          connection.client.disconnect();
        }
      },
    });
  }
  list.push({
    name: "sentry",
    async run() {
      // Any HTTP answer shows a server is there; a 5xx means it is not taking reports now.
      const url = `${c.SENTRY_BASE_URL}/api/0/`;
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
      await res.arrayBuffer().catch(() => {});
      if (res.status >= 500) throw new Error(`${c.SENTRY_BASE_URL} answers HTTP ${res.status}`);
      return `${c.SENTRY_BASE_URL} answers (HTTP ${res.status} for /api/0/)`;
    },
  });
  return list;
}

/** The value as `--print` shows it: secrets as "***", PROJECT_KEYS' secret keys too. */
function shown(key: OptionKey, value: unknown): unknown {
  if (value === null || value === "") return value;
  if (SECRET_OPTIONS.has(key)) return "***";
  if (key === "PROJECT_KEYS") return (value as Config["PROJECT_KEYS"]).map(([id, pub, secret]) => [id, pub, secret === null ? null : "***"]);
  return value;
}

function printConfig(loaded: LoadedConfig, io: CliIO): void {
  const width = Math.max(...Object.keys(OPTIONS).map((k) => k.length));
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    const origin = loaded.origins[key] === "file" ? `file ${loaded.source}` : loaded.origins[key] === "env" ? `env CYCLOPS_${key}` : loaded.origins[key];
    io.out(`${key.padEnd(width)}  ${JSON.stringify(shown(key, loaded.config[key]))}  (${origin})\n`);
  }
}

export async function checkCommand(flags: CheckFlags, io: CliIO): Promise<number> {
  const timeoutMs = Number(flags.timeout) * 1000;
  if (!(timeoutMs > 0)) throw new UsageError("check: --timeout must be a positive number of seconds");
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig({ file: flags.conf });
  } catch (e) {
    if (e instanceof ConfigError) {
      io.out(`FAIL config: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  for (const warning of loaded.warnings) io.err(`cyclops: ${warning}\n`);
  if (flags.print) printConfig(loaded, io);
  io.out(`ok   config: ${loaded.source}\n`);
  const secrets = [...SECRET_OPTIONS].map((k) => loaded.config[k] as string | null).concat(loaded.config.PROJECT_KEYS.map((k) => k[2]));
  let failed = 0;
  for (const check of checks(loaded.config, timeoutMs)) {
    try {
      io.out(`ok   ${check.name}: ${await within(timeoutMs + 1000, check.run())}\n`);
    } catch (e) {
      failed++;
      io.out(`FAIL ${check.name}: ${redact(describeError(e), secrets)}\n`);
    }
  }
  return failed ? 1 : 0;
}

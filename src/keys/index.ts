/**
 * Builds the key sources a configuration asks for: the static keys of PROJECT_KEYS (when there are
 * any, or when DB_BACKEND is none, so the registry always has at least one source) plus the
 * DB_BACKEND one. Configuration mistakes throw here, at startup, with a message naming the option.
 */
import type { Config } from "../config/schema.ts";
import type { KeySource } from "./key-source.ts";
import { MysqlKeySource } from "./mysql.ts";
import { PostgresKeySource } from "./postgres.ts";
import { SentryApiKeySource } from "./sentry-api.ts";
import { SqliteKeySource } from "./sqlite.ts";
import { StaticKeySource } from "./static.ts";

const DEFAULT_PORTS = { postgres: 5432, mysql: 3306 } as const;

export interface KeySourceOverrides {
  /** Per-load (SQL) or per-request (API) timeout; tests shorten it. */
  timeoutMs?: number;
}

export function createKeySources(config: Config, overrides: KeySourceOverrides = {}): KeySource[] {
  const sources: KeySource[] = [];
  if (config.PROJECT_KEYS.length > 0 || config.DB_BACKEND === "none") {
    sources.push(new StaticKeySource(config.PROJECT_KEYS));
  }
  const backend = config.DB_BACKEND;
  switch (backend) {
    case "none":
      break;
    case "sqlite":
      sources.push(new SqliteKeySource(config.DB_PATH ?? config.DB_NAME, overrides.timeoutMs));
      break;
    case "postgres":
    case "mysql": {
      const options = {
        host: config.DB_HOST,
        port: config.DB_PORT ?? DEFAULT_PORTS[backend],
        database: config.DB_NAME,
        user: config.DB_USER,
        password: config.DB_PASS,
        timeoutMs: overrides.timeoutMs,
      };
      sources.push(backend === "postgres" ? new PostgresKeySource(options) : new MysqlKeySource(options));
      break;
    }
    case "sentry-api":
      sources.push(sentryApiSource(config, overrides));
      break;
    default: {
      const unknown: never = backend;
      throw new Error(`DB_BACKEND ${String(unknown)} is not supported`);
    }
  }
  return sources;
}

function sentryApiSource(config: Config, overrides: KeySourceOverrides): SentryApiKeySource {
  const org = config.SENTRY_API_ORG;
  if (!org) throw new Error("DB_BACKEND sentry-api needs SENTRY_API_ORG, the organization slug whose keys to load");
  const inline = config.SENTRY_API_TOKEN;
  const file = config.SENTRY_API_TOKEN_FILE;
  let token: () => Promise<string>;
  if (inline) {
    token = async () => inline;
  } else if (file) {
    // Read at each load so a rotated token is used without a restart.
    token = async () => {
      let text: string;
      try {
        text = await Bun.file(file).text();
      } catch (e) {
        throw new Error(`cannot read SENTRY_API_TOKEN_FILE ${file}: ${(e as Error).message}`);
      }
      const trimmed = text.trim();
      if (!trimmed) throw new Error(`SENTRY_API_TOKEN_FILE ${file} is empty`);
      return trimmed;
    };
  } else {
    throw new Error("DB_BACKEND sentry-api needs a token: SENTRY_API_TOKEN (or the CYCLOPS_SENTRY_API_TOKEN environment variable) or SENTRY_API_TOKEN_FILE");
  }
  return new SentryApiKeySource({
    baseUrl: config.SENTRY_API_URL ?? config.SENTRY_BASE_URL,
    org,
    token,
    requestTimeoutMs: overrides.timeoutMs,
  });
}

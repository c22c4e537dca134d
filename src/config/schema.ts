/**
 * Every configuration option, declared once: its JSON key (the original cyclops's names kept
 * verbatim), its type as a zod schema, its default, a one-line doc and its environment variable.
 * Validation (load.ts), `cyclops init` (render.ts), environment overrides and the README table are
 * all derived from this list, so they cannot drift apart.
 */
import { z } from "zod";

export interface OptionDef<T = unknown> {
  /** zod schema for the value as written in JSON (aliases are normalised by `normalize`). */
  schema: z.ZodType<T>;
  default: T;
  doc: string;
  /** Section heading in `init` output and the README table. */
  section: string;
  /** Maps accepted spellings (e.g. the original's class names) to the canonical value. */
  normalize?: (value: unknown) => unknown;
}

const STORAGE_ALIASES: Record<string, string> = {
  "cyclops.storage.InMemoryStorage": "memory",
  "cyclops.storage.RedisStorage": "redis",
};
const CACHE_ALIASES: Record<string, string> = {
  "cyclops.cache.RedisCache": "redis",
  "cyclops.cache.InMemoryCache": "memory",
  "cyclops.cache.Cache": "memory",
  "cyclops.cache.NoCache": "memory",
};
const alias = (table: Record<string, string>) => (v: unknown) => (typeof v === "string" && v in table ? table[v] : v);

/** The original wrote `localhost:9000`; a bare host:port means plain http. */
export function normalizeBaseUrl(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const trimmed = v.trim().replace(/\/+$/, "");
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
}

const port = z.number().int().min(1).max(65535);
const nonNegInt = z.number().int().min(0);
const posInt = z.number().int().min(1);
const seconds = z.number().min(0);
const projectKey = z.tuple([posInt, z.string().min(1), z.string().nullable()]);

/** One alert sink of ALERTS. */
const alertSink = z.strictObject({
  url: z
    .string()
    .url()
    .regex(/^https?:\/\//i, "an http or https URL"),
  format: z.enum(["json", "slack"]).default("json"),
  name: z.string().min(1).optional(),
  projects: z.array(posInt).optional(),
  reasons: z.array(z.string().min(1)).optional(),
});
export type AlertSinkConfig = z.infer<typeof alertSink>;
const spikeMode = z.enum(["off", "shadow", "enforce"]);
const spikeProject = z.object({ SPIKE_PROTECTION: spikeMode.optional(), SPIKE_MIN_PER_MINUTE: posInt.optional() }).strict();

/** `[id, key]` is a modern key without a secret: the same as `[id, key, null]`. */
function withoutSecret(v: unknown): unknown {
  return Array.isArray(v) ? v.map((e) => (Array.isArray(e) && e.length === 2 ? [...e, null] : e)) : v;
}

function opt<T>(section: string, schema: z.ZodType<T>, def: T, doc: string, normalize?: (v: unknown) => unknown): OptionDef<T> {
  return { section, schema, default: def, doc, normalize };
}

export const OPTIONS = {
  // --- server ---
  PORT: opt("server", z.number().int().min(0).max(65535), 9999, "TCP port to listen on (the original's -p default); 0 picks a free one."),
  BIND: opt("server", z.string().min(1), "0.0.0.0", "Address to bind (the original's -b default)."),
  HEALTHCHECK_TEXT: opt("server", z.string(), "WORKING", "Body of /healthcheck when the gateway is ready."),
  RESTRICT_API_ACCESS: opt("server", z.boolean(), true, "Check every report's key against the known project keys; false accepts any well-formed key (not recommended)."),
  CHECK_SECRET_KEY: opt("server", z.boolean(), true, "When a client sends sentry_secret and the key has one, it must match, as the original checked; Relay ignores secrets."),
  MAX_EVENT_SIZE: opt("server", posInt, 1048576, "Largest store body in bytes, before and after decompression (Sentry's max_event_size, 1 MiB)."),
  MAX_ENVELOPE_SIZE: opt(
    "server",
    posInt,
    20971520,
    "Largest envelope in bytes, before and after decompression. 20 MiB (sentry.io's limit) rather than Relay's 200 MiB, since queued bodies live in memory.",
  ),
  STATS_TOKEN: opt(
    "server",
    z.string().min(8).nullable(),
    null,
    "When set, /count and /metrics answer only requests with `Authorization: Bearer <token>` (cyclops count --token); null leaves them open, as the original did.",
  ),
  SHUTDOWN_TIMEOUT: opt("server", seconds, 10, "Seconds to finish in-flight work and drain the memory queue on SIGTERM before exiting."),
  MAX_INFLIGHT_BYTES: opt(
    "server",
    posInt,
    67108864,
    "Most bytes of request bodies being read and decoded at once (64 MiB); a report whose body does not fit is answered 429 with Retry-After before it is read. Resident memory stays below MAX_QUEUE_BYTES + this + MAX_PENDING_BYTES + 192 MiB for the runtime and decoding garbage (test/e2e/overload.test.ts).",
  ),
  MAX_PENDING_BYTES: opt(
    "server",
    nonNegInt,
    16777216,
    "Most body bytes of reports held while project keys load for the first time (16 MiB): answered 200, checked and forwarded once keys arrive; past it 429 with Retry-After. Held where the queue is (memory, the SQLite spool, Redis), so as durable as it: a stop or crash before keys load loses them only with memory storage; 0 holds none (429 instead).",
  ),
  MAX_INFLIGHT_BYTES_PER_CLIENT: opt(
    "server",
    posInt,
    25165824,
    "Most of MAX_INFLIGHT_BYTES one client address (the peer, or X-Forwarded-For / X-Real-IP) may hold (24 MiB: one largest envelope fits), so one client with stalled uploads cannot get everyone else 429'd; past it that client's bodies are answered 429 before they are read.",
  ),

  // --- upstream ---
  SENTRY_BASE_URL: opt("upstream", z.string().url(), "http://localhost:9000", "Sentry to forward to; the original's host:port form means http://host:port.", normalizeBaseUrl),
  FORWARD_SECRET_KEY: opt("upstream", z.boolean(), false, "Send sentry_secret upstream too (only very old Sentry servers need it)."),
  PACING: opt(
    "upstream",
    z.enum(["original", "adaptive"]),
    "adaptive",
    "adaptive: several in flight, window grown to MAX_CONCURRENCY while Sentry's latency stays flat and shrunk when it rises; original: one request at a time spaced by the p90 of recent response times, at most MAX_DUMP_INTERVAL (the default before 2.0's issue 17).",
  ),
  MAX_DUMP_INTERVAL: opt("upstream", posInt, 1000, "Ceiling in milliseconds on the spacing between upstream requests (the original computed it but never applied it)."),
  MAX_REQUESTS_TO_AVERAGE: opt("upstream", posInt, 5000, "How many recent upstream response times the pacing percentile and /count average are taken over."),
  MAX_CONCURRENCY: opt("upstream", posInt, 32, "Most upstream requests in flight in adaptive pacing."),
  UPSTREAM_COMPRESSION: opt(
    "upstream",
    z.enum(["none", "gzip"]),
    "none",
    "none sends bodies to Sentry as queued; gzip (level 1) sends about a third of the bytes for ~14 µs more CPU per 3.7 KB event, a third of what forwarding it costs (docs/BENCHMARKS.md): worth it on a slow or metered link to Sentry.",
  ),
  UPSTREAM_TIMEOUT: opt("upstream", z.number().positive(), 30, "Seconds before an upstream request counts as a network failure and is retried."),
  MAX_RETRIES: opt("upstream", nonNegInt, 50, "Retries of one item after network failures or 5xx before it is dropped and counted as expired."),
  MAX_ITEM_AGE: opt("upstream", z.number().positive(), 86400, "Seconds an item may wait in the queue before it is dropped and counted as expired."),
  CLIENT_REPORTS: opt("upstream", z.boolean(), true, "Tell Sentry, per project, what cyclops discarded (client_report envelopes), so Sentry's stats page tells the truth."),
  CLIENT_REPORT_INTERVAL: opt("upstream", z.number().positive(), 60, "Seconds between client reports."),

  // --- queue ---
  STORAGE: opt(
    "queue",
    z.enum(["memory", "sqlite", "redis"]),
    "memory",
    "memory, sqlite (durable spool at SQLITE_PATH) or redis (shared by a farm); the original's class names are accepted.",
    alias(STORAGE_ALIASES),
  ),
  PROCESS_NEWER_MESSAGES_FIRST: opt("queue", z.boolean(), true, "Forward the newest queued report of each project first (LIFO); false is FIFO."),
  MAX_QUEUE_ITEMS: opt("queue", posInt, 100000, "Most queued reports; past it clients get 429 with Retry-After and X-Sentry-Rate-Limits."),
  MAX_QUEUE_BYTES: opt("queue", posInt, 268435456, "Most queued body bytes (256 MiB); past it clients get 429 with Retry-After and X-Sentry-Rate-Limits."),
  SQLITE_PATH: opt("queue", z.string().min(1), "cyclops-spool.sqlite", "File of the SQLite spool when STORAGE is sqlite."),

  // --- flood ---
  URL_CACHE_EXPIRATION: opt("flood", seconds, 1, "Flood window in seconds, starting at an error's first report; 0 disables flood dropping."),
  MAX_CACHE_USES: opt("flood", nonNegInt, 10, "Reports of one error allowed per window; the rest are answered and dropped."),
  CACHE_IMPLEMENTATION_CLASS: opt(
    "flood",
    z.enum(["memory", "redis"]),
    "memory",
    "Where flood counters live: memory (per instance) or redis (shared by a farm). The original defaulted to Redis; memory needs no server.",
    alias(CACHE_ALIASES),
  ),
  IGNORE_PERCENTAGE: opt(
    "flood",
    z.record(z.string().regex(/^\d+$/), z.number().min(0).max(100)),
    {} as Record<string, number>,
    'Share of reports to drop per project, e.g. {"1": 10}; applies to every route (the original: GET only, off by one).',
  ),

  // --- keys ---
  PROJECT_KEYS: opt(
    "keys",
    z.array(projectKey),
    [] as Array<[number, string, string | null]>,
    "Static keys: a list of [project_id, public_key, secret_key or null] (a modern key may leave the secret out); combined with DB_BACKEND's keys. `cyclops init --dsn <DSN>` writes them from Sentry's DSNs.",
    withoutSecret,
  ),
  DB_BACKEND: opt(
    "keys",
    z.enum(["none", "sqlite", "postgres", "mysql", "sentry-api"]),
    "none",
    "Where to load project keys from besides PROJECT_KEYS. The original defaulted to mysql; none needs no server.",
  ),
  UPDATE_PERIOD: opt("keys", z.number().positive(), 120, "Seconds between reloads of project keys from DB_BACKEND."),
  DB_HOST: opt("keys", z.string().min(1), "127.0.0.1", "Database host for postgres and mysql."),
  DB_PORT: opt("keys", port.nullable(), null, "Database port; null means the backend's own (5432 postgres, 3306 mysql)."),
  DB_NAME: opt("keys", z.string().min(1), "sentry", "Database name (for sqlite, the file path unless DB_PATH is set)."),
  DB_USER: opt("keys", z.string(), "root", "Database user."),
  DB_PASS: opt("keys", z.string(), "", "Database password; never logged."),
  DB_PATH: opt("keys", z.string().nullable(), null, "Path of Sentry's SQLite database when DB_BACKEND is sqlite."),
  SENTRY_API_URL: opt("keys", z.string().url().nullable(), null, "Sentry web API base for DB_BACKEND sentry-api; null means SENTRY_BASE_URL.", (v) =>
    v == null ? v : normalizeBaseUrl(v),
  ),
  SENTRY_API_ORG: opt("keys", z.string().nullable(), null, "Organization slug whose projects' keys are loaded with sentry-api."),
  SENTRY_API_TOKEN: opt("keys", z.string().nullable(), null, "API token (project:read) for sentry-api; never logged."),
  SENTRY_API_TOKEN_FILE: opt("keys", z.string().nullable(), null, "File holding the API token, read at each refresh."),

  // --- redis ---
  REDIS_HOST: opt("redis", z.string().min(1), "127.0.0.1", "Redis host for STORAGE redis and redis flood counters."),
  REDIS_PORT: opt("redis", port, 6379, "Redis port (the original used 7780; 6379 is Redis's own default)."),
  REDIS_DB_COUNT: opt("redis", nonNegInt, 0, "Redis database number."),
  REDIS_PASSWORD: opt("redis", z.string().nullable(), null, "Redis password; never logged."),
  REDIS_KEY_PREFIX: opt("redis", z.string().min(1), "cyclops", "Prefix of every Redis key, so several farms can share one Redis."),
  REDIS_LEASE_TIME: opt(
    "redis",
    z.number().positive(),
    60,
    "Seconds a taken item stays leased to one instance; an instance that dies gives its items back after this. Keep it above UPSTREAM_TIMEOUT, or a slow send may be delivered twice.",
  ),
  REDIS_COMPRESSION: opt(
    "redis",
    z.enum(["zstd", "none"]),
    "zstd",
    "How report bodies are stored in Redis: zstd (level 1: about 9 µs per 2 KB report in the gateway, and less than half the bytes for Redis to copy, log to its AOF and rewrite) or none (as sent, which cyclops versions before this option also read: keep none until every instance of a farm is upgraded).",
  ),
  REDIS_FALLBACK_TO_MEMORY: opt("redis", z.boolean(), false, "While Redis is down, count floods in memory instead of answering 429."),
  REDIS_CLUSTER: opt(
    "redis",
    z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, '"host:port"')),
    [] as string[],
    'Seed nodes of a Redis Cluster, as ["host:port", ...]; when set, the queue and the counters use the cluster (REDIS_HOST, REDIS_PORT and REDIS_DB_COUNT are unused). One reachable seed suffices.',
  ),
  REDIS_WAIT_REPLICAS: opt(
    "redis",
    nonNegInt,
    0,
    "Replicas that must have a report before it is answered 200 (Redis WAIT, once per event-loop turn); 0 answers once the master has it, which a failover can lose.",
  ),

  // --- spike protection (src/spike/, docs/SPIKE-PROTECTION.md) ---
  SPIKE_PROTECTION: opt(
    "spike",
    spikeMode,
    "shadow" as "off" | "shadow" | "enforce",
    "Per-project limits learned from each project's own traffic: off, shadow (learn, count would-drops in /metrics and logs, drop nothing) or enforce. shadow by default: a gateway upgraded in place keeps delivering everything while it learns, and shows what enforce would have dropped before anyone turns it on.",
  ),
  SPIKE_MIN_PER_MINUTE: opt("spike", posInt, 60, "Floor of every spike limit in reports per minute per project and category, and the limit while a project has no history."),
  SPIKE_RESPONSE: opt(
    "spike",
    z.enum(["accept", "rate-limit"]),
    "accept" as "accept" | "rate-limit",
    "What a spike-limited client is answered: accept (200, dropped, so SDKs keep sending and new errors still arrive) or rate-limit (429 with Retry-After and X-Sentry-Rate-Limits naming spike_protection, for that project and category only; the seconds are the time until its limit admits again, 1 to 60).",
  ),
  SPIKE_PROJECTS: opt(
    "spike",
    z.record(z.string().regex(/^\d+$/), spikeProject),
    {} as Record<string, { SPIKE_PROTECTION?: "off" | "shadow" | "enforce"; SPIKE_MIN_PER_MINUTE?: number }>,
    'Per-project overrides, e.g. {"7": {"SPIKE_PROTECTION": "enforce", "SPIKE_MIN_PER_MINUTE": 10}}.',
  ),
  SPIKE_STATE_PATH: opt(
    "spike",
    z.string().min(1).nullable(),
    null,
    "File the learned baselines are kept in across restarts with memory storage and no Redis; null: spike-state.json in systemd's StateDirectory ($STATE_DIRECTORY) when the unit has one, else relearned at each start. With sqlite storage they are kept in the spool (table meta); with a Redis (STORAGE or CACHE_IMPLEMENTATION_CLASS redis), in Redis, one key per project, shared by a farm.",
  ),

  // --- alerts and logs ---
  LOG_LEVEL: opt(
    "alerts and logs",
    z.enum(["error", "warn", "info", "debug"]),
    "info",
    "Least severe log line printed: info tells the story (start, Sentry unreachable and back, drop episodes, a drop summary each minute, queue levels, shutdown) without a line per request; -v flags of `serve` override it.",
  ),
  LOG_FORMAT: opt(
    "alerts and logs",
    z.enum(["json", "pretty", "auto"]),
    "auto",
    "json: one JSON object per line; pretty: readable lines for a person; auto: pretty when standard error is a terminal, else json.",
  ),
  ALERTS: opt(
    "alerts and logs",
    z.array(alertSink),
    [] as AlertSinkConfig[],
    'Where drop episodes and Sentry outages are announced: a list of {"url", "format": "json"|"slack", "name", "projects": [ids], "reasons": [drop reasons]}; name defaults to the URL\'s host (URLs are never logged), absent filters match everything. `cyclops alert test` sends each a test message.',
  ),
  ALERT_MIN_DROPS_PER_MINUTE: opt(
    "alerts and logs",
    posInt,
    100,
    "Drops of one project for one reason within a minute (on one instance) that start an episode: a start alert, an episode log line and the status page's active episode.",
  ),
  ALERT_RESOLVE_SECONDS: opt("alerts and logs", z.number().positive(), 300, "Seconds without a drop of the episode's project and reason that end it (a resolve alert)."),
} satisfies Record<string, OptionDef<any>>;

export type OptionKey = keyof typeof OPTIONS;
export type Config = { [K in OptionKey]: (typeof OPTIONS)[K]["default"] };

/** The original's deprecated aliases, still read. */
export const DEPRECATED_ALIASES: Record<string, OptionKey> = {
  MYSQL_HOST: "DB_HOST",
  MYSQL_PORT: "DB_PORT",
  MYSQL_DB: "DB_NAME",
  MYSQL_USER: "DB_USER",
  MYSQL_PASS: "DB_PASS",
};

/** Options whose values are secrets: never shown in an error or a log; redacted by `check --print`. */
export const SECRET_OPTIONS: ReadonlySet<OptionKey> = new Set<OptionKey>(["STATS_TOKEN", "DB_PASS", "REDIS_PASSWORD", "SENTRY_API_TOKEN"]);

export const envVarOf = (key: string): string => `CYCLOPS_${key}`;

export function defaults(): Config {
  const out: Record<string, unknown> = {};
  for (const [k, def] of Object.entries(OPTIONS)) out[k] = structuredClone(def.default);
  return out as Config;
}

import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/config/load.ts";
import { EXAMPLE_CONFIG, initJson, readmeTable, README_TABLE_BEGIN, README_TABLE_END } from "../../src/config/render.ts";
import { defaults, OPTIONS } from "../../src/config/schema.ts";
import { tempDir } from "../helpers/gateway.ts";

function writeConfig(obj: unknown): string {
  const file = join(tempDir(), "c.json");
  writeFileSync(file, typeof obj === "string" ? obj : JSON.stringify(obj));
  return file;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("defaults", () => {
  test("embedded defaults need no server", () => {
    const { config, source } = loadConfig({ env: {} });
    expect(source).toBe("embedded defaults");
    expect(config.STORAGE).toBe("memory");
    expect(config.CACHE_IMPLEMENTATION_CLASS).toBe("memory");
    expect(config.DB_BACKEND).toBe("none");
    expect(config.PORT).toBe(9999);
    expect(config.MAX_CACHE_USES).toBe(10);
    expect(config.URL_CACHE_EXPIRATION).toBe(1);
    expect(config.HEALTHCHECK_TEXT).toBe("WORKING");
  });

  test("every option has a doc line and a default that validates", () => {
    for (const [key, def] of Object.entries(OPTIONS)) {
      expect(def.doc.length).toBeGreaterThan(10);
      const parsed = (def.schema as any).safeParse(def.normalize ? def.normalize(def.default) : def.default);
      if (!parsed.success) throw new Error(`${key}'s default does not validate`);
    }
  });
});

describe("precedence: defaults < file < environment < flags", () => {
  const file = writeConfig({ HEALTHCHECK_TEXT: "FILE", PORT: 9100, MAX_CACHE_USES: 3, STORAGE: "cyclops.storage.InMemoryStorage" });

  test("file over defaults", () => {
    const { config, source } = loadConfig({ file, env: {} });
    expect(config.HEALTHCHECK_TEXT).toBe("FILE");
    expect(config.PORT).toBe(9100);
    expect(config.MAX_CACHE_USES).toBe(3);
    expect(config.STORAGE).toBe("memory");
    expect(source).toBe(file);
  });

  test("environment over file, JSON-parsed for non-strings", () => {
    const { config } = loadConfig({
      file,
      env: {
        CYCLOPS_HEALTHCHECK_TEXT: "ENV",
        CYCLOPS_PORT: "9200",
        CYCLOPS_PROJECT_KEYS: '[[1,"' + "a".repeat(32) + '",null]]',
        CYCLOPS_REDIS_PASSWORD: "null",
        CYCLOPS_RESTRICT_API_ACCESS: "false",
      },
    });
    expect(config.HEALTHCHECK_TEXT).toBe("ENV");
    expect(config.PORT).toBe(9200);
    expect(config.MAX_CACHE_USES).toBe(3);
    expect(config.PROJECT_KEYS).toEqual([[1, "a".repeat(32), null]]);
    expect(config.REDIS_PASSWORD).toBeNull();
    expect(config.RESTRICT_API_ACCESS).toBe(false);
  });

  test("flags over environment", () => {
    const { config } = loadConfig({ file, env: { CYCLOPS_PORT: "9200" }, flags: { PORT: 9300 } });
    expect(config.PORT).toBe(9300);
  });

  test("the original's aliases and host:port base URL", () => {
    const { config } = loadConfig({
      file: writeConfig({
        SENTRY_BASE_URL: "localhost:9000",
        CACHE_IMPLEMENTATION_CLASS: "cyclops.cache.RedisCache",
        MYSQL_HOST: "db.example",
        STORAGE: "cyclops.storage.RedisStorage",
      }),
      env: {},
    });
    expect(config.SENTRY_BASE_URL).toBe("http://localhost:9000");
    expect(config.CACHE_IMPLEMENTATION_CLASS).toBe("redis");
    expect(config.STORAGE).toBe("redis");
    expect(config.DB_HOST).toBe("db.example");
  });
});

describe("errors name the option and where it came from", () => {
  test("wrong type in the file", () => {
    const file = writeConfig({ MAX_CACHE_USES: "ten" });
    const msg = errorOf(() => loadConfig({ file, env: {} }));
    expect(msg).toContain(file);
    expect(msg).toContain("MAX_CACHE_USES");
  });

  test("out of range", () => {
    const msg = errorOf(() => loadConfig({ file: writeConfig({ PORT: 70000 }), env: {} }));
    expect(msg).toContain("PORT");
    expect(msg).toContain("70000");
  });

  test("unknown key suggests the nearest", () => {
    const msg = errorOf(() => loadConfig({ file: writeConfig({ MAX_CACHE_USE: 3 }), env: {} }));
    expect(msg).toContain("unknown option MAX_CACHE_USE");
    expect(msg).toContain("did you mean MAX_CACHE_USES?");
  });

  test("malformed JSON", () => {
    const file = writeConfig("{ not json");
    const msg = errorOf(() => loadConfig({ file, env: {} }));
    expect(msg).toContain(file);
    expect(msg).toContain("not valid JSON");
  });

  test("unreadable file", () => {
    const msg = errorOf(() => loadConfig({ file: "/nonexistent/cyclops.json", env: {} }));
    expect(msg).toContain("/nonexistent/cyclops.json");
    expect(msg).toContain("ENOENT");
  });

  test("a non-object file", () => {
    expect(errorOf(() => loadConfig({ file: writeConfig("[1,2]"), env: {} }))).toContain("JSON object");
  });

  test("bad environment value names the variable", () => {
    const msg = errorOf(() => loadConfig({ env: { CYCLOPS_MAX_CACHE_USES: "many" } }));
    expect(msg).toContain("environment CYCLOPS_MAX_CACHE_USES");
    const msg2 = errorOf(() => loadConfig({ env: { CYCLOPS_STORAGE: "postgres" } }));
    expect(msg2).toContain("CYCLOPS_STORAGE");
  });

  test("bad flag value names the command line", () => {
    expect(errorOf(() => loadConfig({ env: {}, flags: { PORT: -1 } }))).toContain("command line: PORT");
  });

  test("bad PROJECT_KEYS entry", () => {
    const msg = errorOf(() => loadConfig({ file: writeConfig({ PROJECT_KEYS: [["1", "k", "s"]] }), env: {} }));
    expect(msg).toContain("PROJECT_KEYS");
  });
});

describe("init output and the README table come from the schema", () => {
  test("init output reads back as exactly the defaults", () => {
    const file = writeConfig(initJson());
    expect(loadConfig({ file, env: {} }).config).toEqual(defaults());
    const parsed = JSON.parse(initJson());
    for (const key of Object.keys(OPTIONS)) {
      expect(parsed).toHaveProperty(key);
      expect(typeof parsed[`//${key}`]).toBe("string");
    }
  });

  test("cyclops.conf.example.json is exactly `cyclops init`'s output, and loads", async () => {
    const path = join(import.meta.dir, "../..", EXAMPLE_CONFIG);
    expect(await Bun.file(path).text()).toBe(initJson());
    expect(loadConfig({ file: path, env: {} }).config).toEqual(defaults());
  });

  test("README's option table equals the schema's", async () => {
    const readme = await Bun.file(join(import.meta.dir, "../../README.md")).text();
    const start = readme.indexOf(README_TABLE_BEGIN);
    const end = readme.indexOf(README_TABLE_END);
    expect(start).toBeGreaterThan(0);
    expect(readme.slice(start + README_TABLE_BEGIN.length, end).trim()).toBe(readmeTable());
  });
});

describe("environment values and errors an operator can act on", () => {
  test("string options take the text as is: no JSON quoting", () => {
    const { config } = loadConfig({ env: { CYCLOPS_STATS_TOKEN: "0123456789", CYCLOPS_REDIS_PASSWORD: "123", CYCLOPS_SQLITE_PATH: "[spool].sqlite", CYCLOPS_STORAGE: "sqlite" } });
    expect(config.STATS_TOKEN).toBe("0123456789");
    expect(config.REDIS_PASSWORD).toBe("123");
    expect(config.SQLITE_PATH).toBe("[spool].sqlite");
    expect(config.STORAGE).toBe("sqlite");
  });

  test("an enum names its allowed values", () => {
    const msg = errorOf(() => loadConfig({ env: { CYCLOPS_STORAGE: "Sqlite" } }));
    expect(msg).toBe('environment CYCLOPS_STORAGE: STORAGE: must be one of memory, sqlite, redis (got "Sqlite")');
  });

  test("a constraint names itself: minimum length, range, whole number, type", () => {
    expect(errorOf(() => loadConfig({ env: { CYCLOPS_STATS_TOKEN: "sekret" } }))).toBe("environment CYCLOPS_STATS_TOKEN: STATS_TOKEN: must be at least 8 characters long");
    expect(errorOf(() => loadConfig({ env: { CYCLOPS_PORT: "70000" } }))).toContain("PORT: must be at most 65535");
    expect(errorOf(() => loadConfig({ env: { CYCLOPS_UPSTREAM_TIMEOUT: "0" } }))).toContain("UPSTREAM_TIMEOUT: must be more than 0");
    expect(errorOf(() => loadConfig({ env: { CYCLOPS_MAX_CACHE_USES: "1.5" } }))).toContain("MAX_CACHE_USES: must be a whole number");
    expect(errorOf(() => loadConfig({ env: { CYCLOPS_MAX_CACHE_USES: "lots" } }))).toContain("MAX_CACHE_USES: must be a number");
    expect(errorOf(() => loadConfig({ env: { CYCLOPS_RESTRICT_API_ACCESS: "yes" } }))).toContain("must be true or false");
    expect(errorOf(() => loadConfig({ env: { CYCLOPS_SENTRY_BASE_URL: "http://exa mple.com" } }))).toContain("must be a URL");
  });

  test("a secret's value is never in an error, wherever it came from", () => {
    const secret = "hunter2-sekret";
    const cases = [
      () => loadConfig({ env: { CYCLOPS_STATS_TOKEN: "short" } }),
      () => loadConfig({ file: writeConfig({ REDIS_PASSWORD: 12345678 }), env: {} }),
      () => loadConfig({ file: writeConfig({ DB_PASS: [secret] }), env: {} }),
      () => loadConfig({ file: writeConfig({ PROJECT_KEYS: [[1, "a".repeat(32), secret, "extra"]] }), env: {} }),
      () => loadConfig({ file: writeConfig(`{"SENTRY_API_TOKEN": ${secret}}`), env: {} }),
      () => loadConfig({ env: {}, flags: { STATS_TOKEN: "short" } }),
    ];
    for (const run of cases) {
      const msg = errorOf(run);
      for (const value of [secret, "short", "12345678"]) expect(msg).not.toContain(value);
    }
  });

  test("an unknown CYCLOPS_* variable is a warning naming the closest option; others are not", () => {
    const { warnings } = loadConfig({ env: { CYCLOPS_STORAGES: "redis", CYCLOPS_MYSQL_HOST: "db", CYCLOPS_BINARY: "dist/cyclops", CYCLOPS_PORT: "9100", HOME: "/root" } });
    expect(warnings).toHaveLength(2);
    expect(warnings.find((w) => w.includes("CYCLOPS_STORAGES"))).toContain("did you mean CYCLOPS_STORAGE?");
    expect(warnings.find((w) => w.includes("CYCLOPS_MYSQL_HOST"))).toContain("did you mean CYCLOPS_DB_HOST?");
  });

  test("origins: where each value came from", () => {
    const file = writeConfig({ PORT: 9100, HEALTHCHECK_TEXT: "F" });
    const { origins } = loadConfig({ file, env: { CYCLOPS_HEALTHCHECK_TEXT: "E" }, flags: { BIND: "127.0.0.1" } });
    expect(origins.PORT).toBe("file");
    expect(origins.HEALTHCHECK_TEXT).toBe("env");
    expect(origins.BIND).toBe("flag");
    expect(origins.STORAGE).toBe("default");
  });

  test("a modern key may leave its secret out", () => {
    const { config } = loadConfig({ env: { CYCLOPS_PROJECT_KEYS: `[[5, "${"b".repeat(32)}"]]` } });
    expect(config.PROJECT_KEYS).toEqual([[5, "b".repeat(32), null]]);
  });
});

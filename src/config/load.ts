/**
 * Builds the effective Config: defaults < config file < environment (CYCLOPS_<KEY>) < flags.
 * Every error names the option and where its value came from, so an operator can fix it from
 * the one line that `serve` prints before exiting with code 2.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { DEPRECATED_ALIASES, OPTIONS, defaults, envVarOf, type Config, type OptionKey } from "./schema.ts";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface LoadedConfig {
  config: Config;
  /** Where the config came from, for the start-up log line. */
  source: string;
}

function nearest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toUpperCase(), c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(3, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** Validates one value against its option; returns the normalised value or throws naming `where`. */
export function validateOption(key: OptionKey, raw: unknown, where: string): unknown {
  const def = OPTIONS[key];
  const value = def.normalize ? def.normalize(raw) : raw;
  const result = (def.schema as import("zod").ZodType).safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue && issue.path.length ? ` at ${issue.path.join(".")}` : "";
    throw new ConfigError(`${where}: ${key}${path}: ${issue?.message ?? "invalid value"} (got ${JSON.stringify(raw)})`);
  }
  return result.data;
}

function applyObject(target: Record<string, unknown>, obj: unknown, where: string): void {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new ConfigError(`${where}: the config must be a JSON object of options`);
  }
  const known = Object.keys(OPTIONS);
  for (const [rawKey, value] of Object.entries(obj)) {
    if (rawKey.startsWith("//") || rawKey === "$schema") continue; // comments in JSON configs
    const key = (DEPRECATED_ALIASES[rawKey] ?? rawKey) as OptionKey;
    if (!(key in OPTIONS)) {
      const hint = nearest(rawKey, known);
      throw new ConfigError(`${where}: unknown option ${rawKey}${hint ? ` (did you mean ${hint}?)` : ""}`);
    }
    target[key] = validateOption(key, value, where);
  }
}

export function readConfigFile(path: string): unknown {
  const full = resolve(path);
  let text: string;
  try {
    text = readFileSync(full, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`${full}: cannot read the config file (${code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${full}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Parses CYCLOPS_<KEY> values: a value the option accepts as a plain string stays a string
 * ("memory", "WORKING"); anything else is JSON ("9100", "true", "[[1,\"k\",null]]"); "null" is null.
 */
function envValue(key: OptionKey, text: string, variable: string): unknown {
  const def = OPTIONS[key];
  const schema = def.schema as import("zod").ZodType;
  if (text === "null" && schema.safeParse(null).success) return null;
  if (schema.safeParse(def.normalize ? def.normalize(text) : text).success) return text;
  try {
    return JSON.parse(text);
  } catch {
    throw new ConfigError(`environment ${variable}: ${key}: not valid JSON (got ${JSON.stringify(text)})`);
  }
}

export interface LoadOptions {
  file?: string;
  env?: Record<string, string | undefined>;
  /** Command-line overrides, already keyed by option name. */
  flags?: Partial<Record<OptionKey, unknown>>;
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const config = defaults() as Record<string, unknown>;
  let source = "embedded defaults";
  if (opts.file) {
    applyObject(config, readConfigFile(opts.file), resolve(opts.file));
    source = resolve(opts.file);
  }
  const env = opts.env ?? process.env;
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    const variable = envVarOf(key);
    const text = env[variable];
    if (text === undefined) continue;
    config[key] = validateOption(key, envValue(key, text, variable), `environment ${variable}`);
  }
  for (const [key, value] of Object.entries(opts.flags ?? {})) {
    if (value === undefined) continue;
    config[key] = validateOption(key as OptionKey, value, "command line");
  }
  return { config: config as Config, source };
}

/**
 * Builds the effective Config: defaults < config file < environment (CYCLOPS_<KEY>) < flags.
 * Every error is one line naming the option, where its value came from and what it must be, so an
 * operator can fix it from the line `serve` prints before exiting with code 2. A secret's value
 * (SECRET_OPTIONS, and PROJECT_KEYS, which hold secret keys) is never repeated in an error.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { z } from "zod";
import { describeIssue } from "./issues.ts";
import { DEPRECATED_ALIASES, OPTIONS, SECRET_OPTIONS, defaults, envVarOf, type Config, type OptionKey } from "./schema.ts";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Where an option's effective value came from (`cyclops check --print`). */
export type Origin = "default" | "file" | "env" | "flag";

export interface LoadedConfig {
  config: Config;
  /** Where the config came from, for the start-up log line. */
  source: string;
  origins: Record<OptionKey, Origin>;
  /** One line each, for stderr: unknown CYCLOPS_* variables. */
  warnings: string[];
}

/** CYCLOPS_* variables that are not options: read by the allocator restart and the tests. */
const NON_OPTION_VARIABLES = new Set(["CYCLOPS_KEEP_FREED_MEMORY", "CYCLOPS_MAP_SLABS", "CYCLOPS_BINARY", "CYCLOPS_REQUIRE_SERVICES", "CYCLOPS_RELEASE_DIR"]);

export function nearest(word: string, candidates: string[]): string | undefined {
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

const shownInErrors = (key: OptionKey) => !SECRET_OPTIONS.has(key) && key !== "PROJECT_KEYS";

/** Validates one value against its option; returns the normalised value or throws naming `where`. */
export function validateOption(key: OptionKey, raw: unknown, where: string): unknown {
  const def = OPTIONS[key];
  const value = def.normalize ? def.normalize(raw) : raw;
  const result = (def.schema as z.ZodType).safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue && issue.path.length ? ` at ${issue.path.join(".")}` : "";
    const got = shownInErrors(key) ? ` (got ${JSON.stringify(raw)})` : "";
    throw new ConfigError(`${where}: ${key}${path}: ${issue ? describeIssue(issue) : "invalid value"}${got}`);
  }
  return result.data;
}

function applyObject(target: Record<string, unknown>, origins: Record<string, Origin>, obj: unknown, where: string): void {
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
    origins[key] = "file";
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
    // The parser quotes the token it stopped at, which may be a password: drop quoted parts.
    const reason = (e as Error).message.replace(/"[^"]*"?/g, "…");
    throw new ConfigError(`${full}: not valid JSON (${reason})`);
  }
}

/** The schema under `.nullable()`/`.optional()`. */
function baseSchema(schema: z.ZodType): z.ZodType {
  let s = schema as unknown as { def: { type: string; innerType?: z.ZodType } };
  while ((s.def.type === "nullable" || s.def.type === "optional") && s.def.innerType) s = s.def.innerType as never;
  return s as unknown as z.ZodType;
}

/** String and enum options take the variable's text as is; "null" is null where null is allowed. */
function takesText(key: OptionKey): boolean {
  const type = (baseSchema(OPTIONS[key].schema as z.ZodType) as unknown as { def: { type: string } }).def.type;
  return type === "string" || type === "enum";
}

/**
 * Parses CYCLOPS_<KEY> values: text as is for string and enum options ("memory", "WORKING", a
 * token), JSON for the rest ("9100", "true", "[[1,\"k\"]]"). Text that is not JSON goes on as a
 * string, so the error says what the option expects ("must be a number"), not "not valid JSON".
 */
function envValue(key: OptionKey, text: string): unknown {
  if (text === "null" && (OPTIONS[key].schema as z.ZodType).safeParse(null).success) return null;
  if (takesText(key)) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A warning per CYCLOPS_* variable that names no option, with the closest option's variable. */
function unknownVariables(env: Record<string, string | undefined>): string[] {
  const variables = Object.keys(OPTIONS).map(envVarOf);
  const warnings: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith("CYCLOPS_") || NON_OPTION_VARIABLES.has(name) || variables.includes(name)) continue;
    const alias = DEPRECATED_ALIASES[name.slice("CYCLOPS_".length)];
    const hint = alias ? envVarOf(alias) : nearest(name, variables);
    warnings.push(`warning: environment ${name} is not an option and is ignored${hint ? ` (did you mean ${hint}?)` : ""}`);
  }
  return warnings;
}

export interface LoadOptions {
  file?: string;
  env?: Record<string, string | undefined>;
  /** Command-line overrides, already keyed by option name. */
  flags?: Partial<Record<OptionKey, unknown>>;
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const config = defaults() as Record<string, unknown>;
  const origins = Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, "default"])) as Record<OptionKey, Origin>;
  let source = "embedded defaults";
  if (opts.file) {
    applyObject(config, origins, readConfigFile(opts.file), resolve(opts.file));
    source = resolve(opts.file);
  }
  const env = opts.env ?? process.env;
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    const variable = envVarOf(key);
    const text = env[variable];
    if (text === undefined) continue;
    config[key] = validateOption(key, envValue(key, text), `environment ${variable}`);
    origins[key] = "env";
  }
  for (const [key, value] of Object.entries(opts.flags ?? {})) {
    if (value === undefined) continue;
    config[key] = validateOption(key as OptionKey, value, "command line");
    origins[key as OptionKey] = "flag";
  }
  return { config: config as Config, source, origins, warnings: unknownVariables(env) };
}

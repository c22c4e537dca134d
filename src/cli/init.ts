/**
 * `cyclops init [--dsn DSN ...] [FILE]`: the schema rendered as a documented JSON config that
 * `serve -c` reads back. With DSNs (one per Sentry project), SENTRY_BASE_URL and PROJECT_KEYS are
 * written from them, so the gateway forwards to the Sentry the DSNs name, with their keys.
 */
import { existsSync, writeFileSync } from "node:fs";
import { initJson } from "../config/render.ts";
import type { Config } from "../config/schema.ts";
import { parseDsn } from "../protocol/dsn.ts";
import { UsageError, type CliIO } from "./io.ts";

export interface InitFlags {
  force?: boolean;
  dsn?: string[];
}

/** The DSN with its secret hidden, for messages. */
const shown = (dsn: string) => dsn.replace(/^([a-z]+:\/\/[^:@/]*):[^@/]*@/i, "$1:***@");

/** SENTRY_BASE_URL and PROJECT_KEYS from DSNs; they must all name the same Sentry. */
export function valuesFromDsns(dsns: string[]): Pick<Config, "SENTRY_BASE_URL" | "PROJECT_KEYS"> {
  let base: string | null = null;
  const keys: Config["PROJECT_KEYS"] = [];
  for (const text of dsns) {
    let dsn;
    try {
      dsn = parseDsn(text.trim());
    } catch {
      throw new UsageError(`init: ${shown(text)} is not a Sentry DSN (expected like https://<key>@sentry.example.com/<project id>)`);
    }
    const url = `${dsn.protocol}://${dsn.host}${dsn.path}`;
    if (base !== null && base !== url) throw new UsageError(`init: the DSNs name two Sentry servers (${base} and ${url}); one gateway forwards to one`);
    base = url;
    if (!keys.some(([id, key]) => id === dsn.projectId && key === dsn.publicKey)) keys.push([dsn.projectId, dsn.publicKey, dsn.secretKey]);
  }
  return { SENTRY_BASE_URL: base!, PROJECT_KEYS: keys };
}

export async function initCommand(file: string | undefined, opts: InitFlags, io: CliIO): Promise<number> {
  const dsns = opts.dsn ?? [];
  const values: Partial<Pick<Config, "SENTRY_BASE_URL" | "PROJECT_KEYS">> = dsns.length ? valuesFromDsns(dsns) : {};
  const text = initJson(values);
  if (file) {
    if (existsSync(file) && !opts.force) throw new UsageError(`${file} exists; use --force to overwrite it`);
    try {
      writeFileSync(file, text);
    } catch (e) {
      throw new UsageError(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    io.err(`wrote ${file}\n`);
  } else {
    io.out(text);
  }
  io.err(nextSteps(file ?? "conf.json", values.PROJECT_KEYS));
  return 0;
}

function nextSteps(file: string, keys: Config["PROJECT_KEYS"] | undefined): string {
  const lines = ["next:"];
  if (!keys) lines.push("  add your Sentry projects' keys: cyclops init --dsn <DSN from Sentry's Project Settings > Client Keys>");
  lines.push(
    `  cyclops check -c ${file}          # the config, its storage and Sentry, one line each`,
    `  cyclops serve -c ${file}`,
    `  cyclops test-event -c ${file}     # one report through the gateway, counted in /count`,
  );
  const [id, key] = keys?.[0] ?? [1, "<public_key>"];
  lines.push(`  point your SDKs' DSN at the gateway: http://${key}@<gateway host>:9999/${id}`);
  return lines.join("\n") + "\n";
}

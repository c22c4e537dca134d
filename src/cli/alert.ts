/**
 * `cyclops alert test -c conf.json`: sends one test message to each sink of ALERTS, in its
 * format, one attempt each, and says which took it. Exit 0 when all did; 1 naming those that
 * did not; 2 when the config has no sink. Sinks are named by `name` or host, never by URL (a
 * webhook URL's path is its secret).
 */
import { hostname } from "node:os";
import type { Command } from "commander";
import { UsageError, type CliIO } from "./io.ts";

export interface AlertTestFlags {
  conf?: string;
  timeout?: string;
}

export async function alertTestCommand(flags: AlertTestFlags, io: CliIO, fetchImpl: typeof fetch = fetch): Promise<number> {
  // Loaded here, not at the top: main.ts registers this command for every run of the CLI.
  const { ConfigError, loadConfig } = await import("../config/load.ts");
  const { attempt, toSinks } = await import("../alerts/delivery.ts");
  const { alertBody } = await import("../alerts/messages.ts");
  let config;
  try {
    config = loadConfig({ file: flags.conf }).config;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  const sinks = toSinks(config.ALERTS);
  if (sinks.length === 0) throw new UsageError("alert test: ALERTS is empty: there is no sink to test");
  const timeoutMs = Number(flags.timeout ?? 10) * 1000;
  if (!(timeoutMs > 0)) throw new UsageError("alert test: --timeout must be a positive number of seconds");
  const instance = `${hostname()}/${process.pid}`;
  const results = await Promise.all(
    sinks.map(async (sink) => ({
      sink,
      result: await attempt(sink, alertBody({ event: "test", instance, sink: sink.label }, sink.format), fetchImpl, timeoutMs),
    })),
  );
  const failed: string[] = [];
  for (const { sink, result } of results) {
    if (result.ok) io.out(`ok      ${sink.label} (${sink.format}): HTTP ${result.status}\n`);
    else {
      failed.push(sink.label);
      io.out(`FAILED  ${sink.label} (${sink.format}): ${result.error}\n`);
    }
  }
  if (failed.length) {
    io.err(`cyclops: alert test: ${failed.length} of ${sinks.length} sink${sinks.length === 1 ? "" : "s"} did not take the message: ${failed.join(", ")}\n`);
    return 1;
  }
  return 0;
}

/** Adds `alert test` to the CLI; `done` receives the exit code. */
export function registerAlertCommand(program: Command, io: CliIO, done: (code: number) => void): void {
  const alert = program.command("alert").description("alert sinks (ALERTS)");
  alert
    .command("test")
    .description("send one test message to each sink of ALERTS; exit 1 naming those that failed")
    .option("-c, --conf <file>", "JSON config file (see `cyclops init`)")
    .option("--timeout <seconds>", "per-sink timeout", "10")
    .action(async (opts: AlertTestFlags) => done(await alertTestCommand(opts, io)));
}

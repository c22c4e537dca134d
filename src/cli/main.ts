/**
 * The CLI shell: commander parses, one file per subcommand does the work. `main(argv)` returns
 * the exit code (or null while `serve` keeps running) so tests call it in-process. Every error
 * is one line on stderr, a stack trace only with -vvv: a usage error (bad arguments) exits 2, a
 * UsageError its own code, anything else (e.g. sentry-api keys without SENTRY_API_ORG) 1.
 */
import { Command, CommanderError, Option } from "commander";
import { VERSION, versionLine } from "../version.ts";
import { registerAlertCommand } from "./alert.ts";
import { processIO, UsageError, type CliIO } from "./io.ts";

const increase = (_: string, previous: number) => previous + 1;
const collect = (value: string, previous: string[]) => [...previous, value];

export async function main(argv: string[], io: CliIO = processIO): Promise<number | null> {
  let result: number | null = 0;
  const verbosity = () => argv.reduce((n, a) => (/^-v+$/.test(a) ? n + a.length - 1 : a === "--verbose" ? n + 1 : n), 0);

  const program = new Command("cyclops")
    .description("A high-performance gateway in front of Sentry: accepts reports as Sentry does, drops floods, queues, and forwards at the pace Sentry can bear.")
    // the commit costs a git call when run from the sources: only when asked
    .version(argv.includes("--version") ? versionLine() : VERSION, "--version", "print the version and the commit it was built from")
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: (s, write) => write(s) });

  program
    .command("serve")
    .description("run the gateway")
    .option("-c, --conf <file>", "JSON config file (see `cyclops init`)")
    .addOption(new Option("-p, --port <port>", "port to listen on (default 9999)"))
    .option("-b, --bind <address>", "address to bind (default 0.0.0.0)")
    .option("-v, --verbose", "-v warnings, -vv info, -vvv debug (default: LOG_LEVEL, info)", increase, 0)
    .action(async (opts) => {
      // Each subcommand loads only what it needs: `count` and `init` skip the whole server.
      const { serveCommand } = await import("./serve.ts");
      result = await serveCommand(opts, io);
    });

  program
    .command("init")
    .description("write a complete, documented config file (every option with its default)")
    .argument("[file]", "where to write it (default: standard output)")
    .option("-f, --force", "overwrite FILE if it exists")
    .option("--dsn <dsn>", "a Sentry project's DSN (repeat for each project): sets SENTRY_BASE_URL and PROJECT_KEYS", collect, [])
    .action(async (file: string | undefined, opts: { force?: boolean; dsn: string[] }) => {
      const { initCommand } = await import("./init.ts");
      result = await initCommand(file, opts, io);
    });

  program
    .command("check")
    .description("validate a config and check each dependency it names (keys, storage, Redis, Sentry); exit 0 only when all pass")
    .option("-c, --conf <file>", "JSON config file")
    .option("--print", "print the effective config (secrets redacted) and where each value came from")
    .option("--timeout <seconds>", "per-check timeout", "5")
    .action(async (opts: { conf?: string; print?: boolean; timeout: string }) => {
      const { checkCommand } = await import("./check.ts");
      result = await checkCommand(opts, io);
    });

  program
    .command("test-event")
    .description("send one test report through a running gateway and wait until /count shows it delivered")
    .option("-c, --conf <file>", "the gateway's JSON config file (for its address, first project key and STATS_TOKEN)")
    .option("--url <url>", "the gateway's address (default: from BIND and PORT)")
    .option("--wait <seconds>", "how long to wait for delivery", "15")
    .action(async (opts: { conf?: string; url?: string; wait: string }) => {
      const { testEventCommand } = await import("./test-event.ts");
      result = await testEventCommand(opts, io);
    });

  program
    .command("count")
    .description("ask /count of every instance of a farm and print each and the totals")
    .argument("<host>", "host of the instances, e.g. localhost or http://10.0.0.5")
    .argument("<ports>", "ports: 9100, 9100-9109, 9100,9102 or a mix")
    .option("--json", "print JSON for machines")
    .option("--timeout <seconds>", "per-instance timeout", "5")
    .option("--token <token>", "the instances' STATS_TOKEN (default: environment CYCLOPS_STATS_TOKEN)")
    .action(async (host: string, ports: string, opts: { json?: boolean; timeout: string; token?: string }) => {
      const { countCommand } = await import("./count.ts");
      result = await countCommand(host, ports, opts, io);
    });

  registerAlertCommand(program, io, (code) => (result = code));

  try {
    if (argv.length === 0) {
      program.outputHelp();
      return 2;
    }
    await program.parseAsync(argv, { from: "user" });
    return result;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
      io.err("Run `cyclops --help` for usage.\n");
      return 2;
    }
    if (e instanceof UsageError) {
      io.err(`cyclops: ${e.message}\n`);
      if (verbosity() >= 3 && e.stack) io.err(`${e.stack}\n`);
      return e.exitCode;
    }
    io.err(`cyclops: ${(e as Error).message ?? String(e)}\n`);
    if (verbosity() >= 3 && (e as Error).stack) io.err(`${(e as Error).stack}\n`);
    return 1;
  }
}

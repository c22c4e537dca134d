/**
 * `cyclops serve`: config → gateway → wait for a signal → graceful stop. SIGTERM/SIGINT stop
 * accepting, finish in-flight work and close storage; a second signal exits at once.
 */
import { ConfigError, loadConfig } from "../config/load.ts";
import { createLogger, levelFromVerbosity, LogLimiter } from "../log.ts";
import { startGateway, type Gateway } from "../gateway/gateway.ts";
import { UsageError, type CliIO } from "./io.ts";

export interface ServeFlags {
  conf?: string;
  port?: string;
  bind?: string;
  verbose?: number;
}

function parsePort(text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`command line: --port must be a number from 0 to 65535 (got ${JSON.stringify(text)})`);
  const n = Number(text);
  if (n > 65535) throw new UsageError(`command line: --port must be from 0 to 65535 (got ${n})`);
  return n;
}

/** Why a listen failed, in words naming the cause; null for errors that are not the address's. */
function listenFailure(code: string | undefined): string | null {
  switch (code) {
    case "EADDRINUSE":
      return "address already in use";
    case "EACCES":
      return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
    case "EADDRNOTAVAIL":
      return "the address is not one of this host's (EADDRNOTAVAIL)";
    case "EINVAL":
    case "ENOTFOUND":
    case "EAI_NONAME":
      return "not an IP address or host name this host can bind (use e.g. 0.0.0.0, 127.0.0.1 or ::)";
    default:
      return null;
  }
}

export async function serveCommand(flags: ServeFlags, _io: CliIO): Promise<number | null> {
  let loaded;
  try {
    loaded = loadConfig({
      file: flags.conf,
      flags: { PORT: flags.port === undefined ? undefined : parsePort(flags.port), BIND: flags.bind },
    });
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  // -v flags, when given, override LOG_LEVEL (the original's verbosity count).
  const level = flags.verbose ? levelFromVerbosity(flags.verbose) : loaded.config.LOG_LEVEL;
  const log = createLogger(level, 2, loaded.config.LOG_FORMAT);
  // Config warnings are log lines like the others (JSON in JSON mode), shown whatever LOG_LEVEL says.
  for (const warning of loaded.warnings) log.child({}, { level: "warn" }).warn({}, warning);
  let gateway: Gateway;
  try {
    gateway = await startGateway(loaded.config, { log, source: loaded.source });
  } catch (e) {
    const reason = listenFailure((e as NodeJS.ErrnoException).code);
    if (reason) throw new UsageError(`cannot listen on ${loaded.config.BIND}:${loaded.config.PORT}: ${reason}`);
    throw e;
  }

  let signals = 0;
  const onSignal = (signal: string) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, "second signal: exiting now");
      process.exit(130);
    }
    log.warn({ signal }, "stopping: finishing in-flight work");
    gateway.stop().then(
      () => process.exit(0),
      (e) => {
        log.error({ err: e }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  // A stray rejected promise (a driver's background error) must not take the queue down with the
  // process: it is logged, rate-limited, and the gateway goes on.
  const limiter = new LogLimiter(60_000);
  process.on("unhandledRejection", (reason) => {
    const suppressed = limiter.allow("unhandledRejection");
    if (suppressed !== null) log.error({ err: reason, suppressed }, "unhandled promise rejection (kept running)");
  });
  // Operators and scripts wait for this line to know the port (with -p 0 it is chosen by the OS);
  // it comes after the signal handlers so a SIGTERM right after it is a graceful stop.
  // A log line like the others, printed whatever LOG_LEVEL says (a child logger at info).
  log.child({}, { level: "info" }).info({ port: gateway.port }, `cyclops listening on ${gateway.url.replace("127.0.0.1", loaded.config.BIND)} (port ${gateway.port})`);
  return null;
}

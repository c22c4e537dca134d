/**
 * Structured lines on stderr through pino (well kept, fast, and its synchronous destination
 * needs no worker thread, so it works inside the single `bun build --compile` binary).
 * LOG_LEVEL (default info) tells the story without a line per request; `serve -v` flags override
 * it as the original's -v count did: -v → warn, -vv → info, -vvv → debug.
 * LOG_FORMAT: json (one object per line), pretty (for a person), auto (pretty on a terminal).
 * Secrets and event payloads are never passed to the logger at info or above.
 */
import { writeSync } from "node:fs";
import { isatty } from "node:tty";
import pino from "pino";

export type Logger = pino.Logger;
export const LEVELS = ["error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof LEVELS)[number];
export type LogFormat = "json" | "pretty" | "auto";

export function levelFromVerbosity(v: number): LogLevel {
  return LEVELS[Math.max(0, Math.min(LEVELS.length - 1, v))]!;
}

export function createLogger(level: string = "error", destination: number | string = 2, format: LogFormat = "json"): Logger {
  const pretty = format === "pretty" || (format === "auto" && typeof destination === "number" && isatty(destination));
  return pino(
    {
      level,
      base: { name: "cyclops" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Belt and braces: even if a config object slips into a log call, these never print.
      redact: { paths: ["*.DB_PASS", "*.SENTRY_API_TOKEN", "*.REDIS_PASSWORD", "*.password", "*.token"], censor: "[secret]" },
    },
    pretty && typeof destination === "number" ? prettyDestination(destination) : pino.destination({ dest: destination, sync: true }),
  );
}

const LEVEL_TAGS: Record<string, string> = { error: "ERROR", warn: "WARN ", info: "INFO ", debug: "DEBUG", fatal: "FATAL", trace: "TRACE" };
const OMITTED = new Set(["level", "time", "msg", "name"]);

/** One pino JSON line as a person reads it: `12:00:01 WARN  message key=value …`. */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith("\n") ? json : `${json}\n`;
  }
  const time = typeof o.time === "string" ? o.time.slice(11, 19) : "";
  const fields = Object.entries(o)
    .filter(([k]) => !OMITTED.has(k))
    .map(([k, v]) => `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  return `${time} ${LEVEL_TAGS[String(o.level)] ?? String(o.level)} ${String(o.msg ?? "")}${fields.length ? `  ${fields.join(" ")}` : ""}\n`;
}

/** A synchronous stream pino writes each JSON line to, printed as prettyLine. */
function prettyDestination(fd: number): { write(line: string): void } {
  return { write: (line) => void writeSync(fd, prettyLine(line.trimEnd())) };
}

/** A logger that prints nothing, for tests and library use. */
export const silentLogger = (): Logger => pino({ level: "silent" });

/**
 * Repeated errors (Sentry down, Redis down, a bad client hammering us) would flood the log: this
 * lets one line per `key` through every `intervalMs`, and says how many were suppressed.
 */
export class LogLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  constructor(
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns the suppressed count since the last line when this one may be logged, else null. */
  allow(key: string): number | null {
    const t = this.now();
    const entry = this.last.get(key);
    if (entry && t - entry.at < this.intervalMs) {
      entry.suppressed++;
      return null;
    }
    const suppressed = entry?.suppressed ?? 0;
    if (this.last.size > 10_000) this.last.clear();
    this.last.set(key, { at: t, suppressed: 0 });
    return suppressed;
  }
}

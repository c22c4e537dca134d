/**
 * Structured JSON lines on stderr through pino (well kept, fast, and its synchronous destination
 * needs no worker thread, so it works inside the single `bun build --compile` binary).
 * Verbosity follows the original's -v count: none → error, -v → warn, -vv → info, -vvv → debug.
 * Secrets and event payloads are never passed to the logger at info or above.
 */
import pino from "pino";

export type Logger = pino.Logger;
export const LEVELS = ["error", "warn", "info", "debug"] as const;

export function levelFromVerbosity(v: number): (typeof LEVELS)[number] {
  return LEVELS[Math.max(0, Math.min(LEVELS.length - 1, v))]!;
}

export function createLogger(level: string = "error", destination: number | string = 2): Logger {
  return pino(
    {
      level,
      base: { name: "cyclops" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Belt and braces: even if a config object slips into a log call, these never print.
      redact: { paths: ["*.DB_PASS", "*.SENTRY_API_TOKEN", "*.REDIS_PASSWORD", "*.password", "*.token"], censor: "[secret]" },
    },
    pino.destination({ dest: destination, sync: true }),
  );
}

/** A logger that prints nothing, for tests and library use. */
export const silentLogger = (): Logger => pino({ level: "silent" });

/**
 * Repeated errors (Sentry down, Redis down, a bad client hammering us) would flood the log: this
 * lets one line per `key` through every `intervalMs`, and says how many were suppressed.
 */
export class LogLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  constructor(private readonly intervalMs = 10_000, private readonly now: () => number = Date.now) {}

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

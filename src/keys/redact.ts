/**
 * Error hygiene shared by every key source: driver and fetch errors can carry connection strings,
 * passwords or tokens, and their messages end up in logs and /count. Every source rethrows a
 * fresh Error whose message went through `redact`, never the driver's error object itself (its
 * other properties may hold the options it was given).
 */

const MASK = "***";

/** Removes each secret and any `scheme://user:password@` credentials from `message`. */
export function redact(message: string, secrets: ReadonlyArray<string | null | undefined>): string {
  let out = message.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi, `$1:${MASK}@`);
  for (const secret of secrets) {
    if (secret) out = out.split(secret).join(MASK);
  }
  return out;
}

/** The message of anything thrown, with a code such as ECONNREFUSED appended when the message lacks it. */
export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const message = e.message || e.name;
    return typeof code === "string" && code && !message.includes(code) ? `${message} (${code})` : message;
  }
  return String(e);
}

/** A fresh Error carrying only the redacted message, prefixed with `context`. */
export function safeError(context: string, e: unknown, secrets: ReadonlyArray<string | null | undefined>): Error {
  return new Error(redact(`${context}: ${describeError(e)}`, secrets));
}

/**
 * Rejects after `ms` with "timed out after N s" and calls `onTimeout` (to tear down whatever is
 * hanging); the late outcome of `work` is swallowed so it cannot become an unhandled rejection.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => void = () => {}): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`timed out after ${ms / 1000} s`));
    }, ms);
  });
  work.catch(() => {});
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

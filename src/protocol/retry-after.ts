/** Retry-After (RFC 9110 §10.2.3): delta-seconds or an HTTP date; the one reader of it. */

/** Seconds to wait from `nowMs`; null when the header is absent or unreadable. */
export function retryAfterSeconds(value: string | null | undefined, nowMs: number): number | null {
  if (value == null) return null;
  const v = value.trim();
  if (v === "") return null;
  if (/^\d+(\.\d+)?$/.test(v)) return Number.parseFloat(v);
  const date = Date.parse(v);
  return Number.isNaN(date) ? null : Math.max(0, (date - nowMs) / 1000);
}

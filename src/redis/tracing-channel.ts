/**
 * Gives Bun's diagnostics_channel TracingChannel the `hasSubscribers` getter Node has had since
 * v22 (`true` when any of its five channels has a subscriber), where Bun lacks it.
 *
 * Why: ioredis skips tracing a command only when `channel.hasSubscribers === false`. On Bun the
 * property is undefined, so ioredis traced every command with nobody listening: it wrapped each
 * promise and built a trace context whose `args` are every argument turned into a string, which
 * for our scripts means decoding each 2 KB report body into a JavaScript string. Measured with
 * bench/profile.ts on Redis storage: about 10 µs of the gateway's CPU per report. With the getter,
 * nothing is traced unless someone subscribes, and an operator's subscriber (OpenTelemetry's
 * ioredis instrumentation) still gets every event.
 */
import dc from "node:diagnostics_channel";

type Subchannel = { hasSubscribers: boolean };
type Tracing = Record<"start" | "end" | "asyncStart" | "asyncEnd" | "error", Subchannel>;

/** Installs the getter when the runtime lacks it; returns whether it did. Idempotent. */
export function ensureTracingHasSubscribers(): boolean {
  if (typeof dc.tracingChannel !== "function") return false;
  const proto = Object.getPrototypeOf(dc.tracingChannel("cyclops:probe")) as object;
  if ("hasSubscribers" in proto) return false;
  Object.defineProperty(proto, "hasSubscribers", {
    configurable: true,
    get(this: Tracing): boolean {
      return this.start.hasSubscribers || this.end.hasSubscribers || this.asyncStart.hasSubscribers || this.asyncEnd.hasSubscribers || this.error.hasSubscribers;
    },
  });
  return true;
}

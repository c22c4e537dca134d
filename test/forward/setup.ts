/** Shared fixtures of the forwarding tests: config, items, a capturing logger, a running forwarder. */
import { defaults, type Config } from "../../src/config/schema.ts";
import { Forwarder, type ForwarderOptions, type Log } from "../../src/forward/forwarder.ts";
import { Stats } from "../../src/stats/counters.ts";
import { LatencyWindow } from "../../src/stats/latency.ts";
import type { NewItem } from "../../src/storage/item.ts";
import { MemoryQueue } from "../../src/storage/memory.ts";

export const keyOf = (projectId: number): string => projectId.toString(16).padStart(2, "0").repeat(16);

const encoder = new TextEncoder();
let seq = 0;
export const newEventId = (): string => (++seq).toString(16).padStart(8, "0") + crypto.randomUUID().replace(/-/g, "").slice(8);

export function storeItem(projectId: number, over: Partial<NewItem> & { event?: Record<string, unknown> } = {}): NewItem {
  const eventId = newEventId();
  const { event, ...rest } = over;
  return {
    projectId,
    endpoint: "store",
    auth: { publicKey: keyOf(projectId), secretKey: null, client: "sentry.python/2.0.0", version: 7 },
    clientIp: "203.0.113.7",
    contentType: "application/json",
    body: encoder.encode(JSON.stringify({ event_id: eventId, message: `hello ${seq}`, level: "error", ...event })),
    eventId,
    receivedAt: Date.now(),
    ...rest,
  };
}

export function envelopeItem(projectId: number, over: Partial<NewItem> = {}): NewItem {
  const eventId = newEventId();
  const payload = JSON.stringify({ event_id: eventId, message: "from an envelope ✓", level: "warning" });
  const bytes = encoder.encode(payload);
  const body = encoder.encode(
    `{"event_id":"${eventId}","sent_at":"2024-01-01T00:00:00Z","sdk":{"name":"sentry.javascript.node","version":"10.0.0"}}\n` +
      `{"type":"event","length":${bytes.byteLength}}\n${payload}\n` +
      `{"type":"attachment","length":3,"filename":"a.bin"}\n\u0000\u0001\u0002\n`,
  );
  return {
    projectId,
    endpoint: "envelope",
    auth: { publicKey: keyOf(projectId), secretKey: null, client: "sentry.javascript.node/10.0.0", version: 7 },
    clientIp: "198.51.100.9",
    contentType: "application/x-sentry-envelope",
    body,
    eventId,
    receivedAt: Date.now(),
    ...over,
  };
}

export const eventIdOf = (body: Uint8Array): string => (JSON.parse(new TextDecoder().decode(body)) as { event_id: string }).event_id;

export interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  obj: object;
  msg: string;
}

export function captureLog(): Log & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine["level"]) => (obj: object, msg: string) => void lines.push({ level, obj, msg });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

export function testConfig(over: Partial<Config> = {}): Config {
  return { ...defaults(), CLIENT_REPORTS: false, UPSTREAM_TIMEOUT: 5, ...over };
}

export interface Harness {
  forwarder: Forwarder;
  queue: MemoryQueue;
  stats: Stats;
  latency: LatencyWindow;
  log: ReturnType<typeof captureLog>;
  config: Config;
}

/** A forwarder over a real MemoryQueue; not started (push first, then `forwarder.start()`). */
export function harness(config: Partial<Config>, opts: Partial<ForwarderOptions> = {}): Harness {
  const cfg = testConfig(config);
  const queue = new MemoryQueue({ maxItems: cfg.MAX_QUEUE_ITEMS, maxBytes: cfg.MAX_QUEUE_BYTES, newestFirst: cfg.PROCESS_NEWER_MESSAGES_FIRST });
  const stats = new Stats();
  const latency = new LatencyWindow(cfg.MAX_REQUESTS_TO_AVERAGE);
  const log = captureLog();
  const forwarder = new Forwarder({
    config: cfg,
    queue,
    stats,
    latency,
    log,
    version: "9.9.9-test",
    backoff: { baseMs: 100, maxMs: 400 },
    random: () => 1,
    ...opts,
  });
  return { forwarder, queue, stats, latency, log, config: cfg };
}

/** Waits for a condition (no timing is asserted; the timeout only bounds a failing test). */
export async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

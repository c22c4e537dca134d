/**
 * `cyclops test-event -c conf.json [--url URL]`: one test report through a running gateway, as an
 * SDK sends it (an envelope with the config's first project key), then /count until the gateway
 * has delivered it to Sentry. Exit 0 once delivered; 1 when refused or not delivered in time.
 */
import { ConfigError, loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { VERSION } from "../version.ts";
import type { CountDocument } from "../stats/count-document.ts";
import { UsageError, type CliIO } from "./io.ts";

export interface TestEventFlags {
  conf?: string;
  url?: string;
  wait: string;
}

/** Where the gateway of this config answers, from this host. */
export function gatewayUrl(c: Pick<Config, "BIND" | "PORT">): string {
  const host = c.BIND === "0.0.0.0" ? "127.0.0.1" : c.BIND === "::" ? "[::1]" : c.BIND.includes(":") ? `[${c.BIND}]` : c.BIND;
  return `http://${host}:${c.PORT}`;
}

export function testEnvelope(eventId: string, now = new Date()): string {
  const event = JSON.stringify({
    event_id: eventId,
    timestamp: now.getTime() / 1000,
    platform: "other",
    level: "info",
    logger: "cyclops",
    message: { formatted: "cyclops test event: this gateway forwards reports to Sentry" },
    tags: { cyclops_test_event: "true" },
  });
  const header = JSON.stringify({ event_id: eventId, sent_at: now.toISOString() });
  return `${header}\n${JSON.stringify({ type: "event", length: Buffer.byteLength(event) })}\n${event}\n`;
}

async function count(base: string, token: string | null): Promise<CountDocument> {
  const res = await fetch(`${base}/count`, { signal: AbortSignal.timeout(5000), headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!res.ok) throw new UsageError(`test-event: ${base}/count answered HTTP ${res.status}`, 1);
  return (await res.json()) as CountDocument;
}

export async function testEventCommand(flags: TestEventFlags, io: CliIO): Promise<number> {
  let config: Config;
  try {
    config = loadConfig({ file: flags.conf }).config;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  const waitMs = Number(flags.wait) * 1000;
  if (!(waitMs >= 0)) throw new UsageError("test-event: --wait must be a number of seconds");
  const key = config.PROJECT_KEYS[0];
  if (!key) throw new UsageError("test-event: the config has no PROJECT_KEYS to send with (cyclops init --dsn <DSN>)");
  const [projectId, publicKey] = key;
  const base = (flags.url ?? gatewayUrl(config)).replace(/\/+$/, "");
  const token = config.STATS_TOKEN;

  const before = await count(base, token).catch((e) => {
    throw e instanceof UsageError ? e : new UsageError(`test-event: no gateway at ${base} (${(e as Error).message}); is cyclops serve running?`, 1);
  });
  const eventId = crypto.randomUUID().replaceAll("-", "");
  const res = await fetch(`${base}/api/${projectId}/envelope/`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-sentry-envelope",
      "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=cyclops-test-event/${VERSION}, sentry_key=${publicKey}`,
    },
    body: testEnvelope(eventId),
    signal: AbortSignal.timeout(5000),
  });
  const answer = (await res.text()).trim();
  if (res.status !== 200) {
    io.out(`refused: ${base} answered HTTP ${res.status} ${answer}\n`);
    return 1;
  }
  io.out(`accepted: event ${eventId} for project ${projectId} (HTTP 200 from ${base})\n`);

  const deadline = Date.now() + waitMs;
  for (;;) {
    const now = await count(base, token);
    if (now.delivered > before.delivered) {
      io.out(`delivered: /count shows ${now.delivered} delivered (was ${before.delivered}); look for event ${eventId} in Sentry's project ${projectId}\n`);
      return 0;
    }
    if (now.rejected > before.rejected) {
      io.out(`rejected by Sentry: /count shows ${now.rejected} rejected (was ${before.rejected}); check the key is the Sentry project's own\n`);
      return 1;
    }
    if (Date.now() >= deadline) {
      io.out(`not delivered within ${flags.wait} s: /count shows ${now.count} queued, ${now.retried} retried; is Sentry at ${config.SENTRY_BASE_URL} reachable? (cyclops check)\n`);
      return 1;
    }
    await Bun.sleep(200);
  }
}

/** A webhook receiver for alert tests: keeps every JSON body it is sent. */
export interface Webhook {
  url: string;
  messages: Array<Record<string, unknown>>;
  events(kind: string): Array<Record<string, unknown>>;
  stop(): void;
}

export function startWebhook(): Webhook {
  const messages: Array<Record<string, unknown>> = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: async (req) => {
      messages.push((await req.json()) as Record<string, unknown>);
      return new Response("ok");
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/hook`,
    messages,
    events: (kind) => messages.filter((m) => m.event === kind),
    stop: () => void server.stop(true),
  };
}

export const PROJECT = 1;
export const PUBLIC_KEY = "a1e7000000000000000000000000000a";

/** One store POST of the same error (so the flood cut counts them together). */
export function sendError(baseUrl: string, message = "TypeError: boom"): Promise<Response> {
  return fetch(`${baseUrl}/api/${PROJECT}/store/`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=alerts-test/1.0, sentry_key=${PUBLIC_KEY}` },
    body: JSON.stringify({ event_id: crypto.randomUUID().replace(/-/g, ""), message, platform: "javascript" }),
  });
}

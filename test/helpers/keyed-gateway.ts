/**
 * A gateway in front of the strict fake Sentry, both knowing the same projects and keys, for tests
 * that check what reaches Sentry per project. Whatever `start` started is stopped after each test.
 */
import { afterEach } from "bun:test";
import type { Config } from "../../src/config/schema.ts";
import { startFakeSentry, type FakeSentry } from "./fake-sentry.ts";
import { startTestGateway, type TestGateway } from "./gateway.ts";

export const newEventId = (): string => crypto.randomUUID().replace(/-/g, "");

/** The X-Sentry-Auth header an SDK sends with `key`. */
export const sentryAuth = (key: string): string => `Sentry sentry_version=7, sentry_client=cyclops-test/1.0, sentry_key=${key}`;

export interface KeyedGateway {
  /** Starts the fake Sentry and the gateway with `defaults` overridden by `options`. */
  start(options: Partial<Config>): Promise<{ fake: FakeSentry; g: TestGateway }>;
  /** Sends `event` (an event_id added) to the store endpoint of `projectId`, with its key. */
  store(g: TestGateway, projectId: number, event: Record<string, unknown>): Promise<Response>;
}

export function keyedGateway(keys: Record<number, string>, defaults: Partial<Config>): KeyedGateway {
  let fake: FakeSentry | undefined;
  let gateway: TestGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    await fake?.stop();
    gateway = undefined;
    fake = undefined;
  });
  const projects = Object.entries(keys).map(([id, key]) => [Number(id), key] as const);
  return {
    async start(options) {
      fake = await startFakeSentry({ keys: Object.fromEntries(projects.map(([id, key]) => [id, [key]])) });
      gateway = await startTestGateway({
        PROJECT_KEYS: projects.map(([id, key]) => [id, key, null]),
        SENTRY_BASE_URL: fake.url,
        ...defaults,
        ...options,
      });
      return { fake, g: gateway };
    },
    store(g, projectId, event) {
      return fetch(`${g.url}/api/${projectId}/store/`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Sentry-Auth": sentryAuth(keys[projectId]!) },
        body: JSON.stringify({ event_id: newEventId(), ...event }),
      });
    },
  };
}

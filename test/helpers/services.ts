/**
 * Real services for tests: Redis, PostgreSQL and MariaDB on 127.0.0.1, as .ci/services.sh starts
 * them. A test that needs one calls `requireService(name)` at the top of its describe block via
 * `describeWith(name, ...)`: when the service is absent the block is skipped with a message naming
 * it, unless CYCLOPS_REQUIRE_SERVICES=1 (set by .ci/run), where it fails, so CI never passes by
 * skipping. Each test gets its own namespace (`uniqueName`) and cleans it up.
 */
import { describe, test } from "bun:test";
import { connect } from "node:net";

export type ServiceName = "redis" | "postgres" | "mysql";

export const SERVICE_PORTS: Record<ServiceName, number> = { redis: 6379, postgres: 5432, mysql: 3306 };
export const SERVICE_HOST = "127.0.0.1";

const required = process.env.CYCLOPS_REQUIRE_SERVICES === "1";
const cache = new Map<ServiceName, Promise<boolean>>();

function portOpen(port: number, host = SERVICE_HOST, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export function serviceAvailable(name: ServiceName): Promise<boolean> {
  let p = cache.get(name);
  if (!p) {
    p = portOpen(SERVICE_PORTS[name]);
    cache.set(name, p);
  }
  return p;
}

/**
 * describe() that runs only when `service` answers. Top-level await keeps bun:test's
 * collection synchronous from its point of view.
 */
export async function describeWith(service: ServiceName, label: string, body: () => void): Promise<void> {
  const up = await serviceAvailable(service);
  if (up) {
    describe(label, body);
    return;
  }
  if (required) {
    describe(label, () => {
      test(`${service} is required (CYCLOPS_REQUIRE_SERVICES=1) but not reachable on ${SERVICE_HOST}:${SERVICE_PORTS[service]}`, () => {
        throw new Error(`${service} is not running; start it with .ci/services.sh`);
      });
    });
    return;
  }
  console.warn(`[skip] ${label}: ${service} is not reachable on ${SERVICE_HOST}:${SERVICE_PORTS[service]} (run .ci/services.sh)`);
  describe.skip(`${label} (skipped: ${service} not running)`, body);
}

let counter = 0;
/** A name unique to this test run, safe as a Redis prefix or a database name. */
export function uniqueName(prefix = "cyclops_test"): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${(counter++).toString(36)}`;
}

/**
 * Real services for tests: Redis, a Redis Cluster, PostgreSQL and MariaDB on 127.0.0.1, as .ci/services.sh starts
 * them. A test that needs one calls `requireService(name)` at the top of its describe block via
 * `describeWith(name, ...)`: when the service is absent the block is skipped with a message naming
 * it, unless CYCLOPS_REQUIRE_SERVICES=1 (set by .ci/run), where it fails, so CI never passes by
 * skipping. Each test gets its own namespace (`uniqueName`) and cleans it up.
 */
import { describe, test } from "bun:test";
import { connect } from "node:net";

export type ServiceName = "redis" | "redis-cluster" | "postgres" | "mysql";

/** "redis-cluster": the first of the local cluster's six nodes (7000-7005, 3 masters + 3 replicas). */
export const SERVICE_PORTS: Record<ServiceName, number> = { redis: 6379, "redis-cluster": 7000, postgres: 5432, mysql: 3306 };
/** Seed nodes of the local Redis Cluster (two, so one down still finds it). */
export const CLUSTER_SEEDS = [7000, 7001].map((port) => ({ host: "127.0.0.1", port }));
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
  const where = `${SERVICE_HOST}:${SERVICE_PORTS[service]}`;
  describeIf(await serviceAvailable(service), `${service} is not reachable on ${where} (run .ci/services.sh)`, label, body);
}

/** describe() that runs only when a tool (Chromium, Debian's python3-sentry-sdk) is installed. */
export function describeWithTool(tool: string, installed: boolean, label: string, body: () => void): void {
  describeIf(installed, `${tool} is not installed (run .ci/services.sh)`, label, body);
}

/** Runs `body`; else skips it naming why, or fails under CYCLOPS_REQUIRE_SERVICES=1. */
function describeIf(available: boolean, why: string, label: string, body: () => void): void {
  if (available) {
    describe(label, body);
    return;
  }
  if (required) {
    describe(label, () => {
      test(`required (CYCLOPS_REQUIRE_SERVICES=1): ${why}`, () => {
        throw new Error(why);
      });
    });
    return;
  }
  console.warn(`[skip] ${label}: ${why}`);
  describe.skip(`${label} (skipped: ${why})`, body);
}

let counter = 0;
/** A name unique to this test run, safe as a Redis prefix or a database name. */
export function uniqueName(prefix = "cyclops_test"): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${(counter++).toString(36)}`;
}

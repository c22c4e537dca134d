import { expect, test } from "bun:test";
import dc from "node:diagnostics_channel";
import { ensureTracingHasSubscribers } from "../../src/redis/tracing-channel.ts";
// Importing the connection installs the getter, before ioredis runs a command.
import { RedisConnection } from "../../src/redis/connection.ts";
import { describeWith } from "../helpers/services.ts";
import { testRedisSettings } from "./redis-cleanup.ts";

test("a tracing channel nobody listens to says so, so ioredis skips tracing", () => {
  ensureTracingHasSubscribers();
  expect(dc.tracingChannel("ioredis:command").hasSubscribers).toBe(false);
});

test("each of the five channels counts as a subscriber, and unsubscribing takes it back", () => {
  for (const name of ["start", "end", "asyncStart", "asyncEnd", "error"] as const) {
    const channel = dc.tracingChannel(`cyclops:test:${name}`);
    const handlers = { [name]: () => {} };
    channel.subscribe(handlers);
    expect(channel.hasSubscribers).toBe(true);
    channel.unsubscribe(handlers);
    expect(channel.hasSubscribers).toBe(false);
  }
});

test("installing twice changes nothing", () => {
  ensureTracingHasSubscribers();
  expect(ensureTracingHasSubscribers()).toBe(false);
  expect(dc.tracingChannel("ioredis:command").hasSubscribers).toBe(false);
});

await describeWith("redis", "ioredis tracing with the getter installed", () => {
  test("a subscriber still sees every command, and the getter turns true for it", async () => {
    const channel = dc.tracingChannel("ioredis:command");
    const seen: string[] = [];
    const handlers = { start: (ctx: unknown) => void seen.push((ctx as { command: string }).command) };
    channel.subscribe(handlers);
    const connection = new RedisConnection(testRedisSettings());
    try {
      expect(channel.hasSubscribers).toBe(true);
      await connection.waitReady();
      await connection.client.ping();
      expect(seen).toContain("ping");
    } finally {
      channel.unsubscribe(handlers);
      await connection.close();
    }
  });
});

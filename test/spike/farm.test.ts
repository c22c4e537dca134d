/**
 * A farm's spike protection through a real Redis (issue 19 item 7): two instances learn one
 * baseline from the farm's traffic, and a storm that lands on one of them is held to about one
 * farm limit; with Redis unreachable each instance limits on its own. Driven on an injected clock,
 * one sync per simulated second.
 */
import { afterAll, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { FarmSync } from "../../src/spike/farm.ts";
import { SpikeLimiter, Verdict } from "../../src/spike/limiter.ts";
import { keyPatterns } from "../../src/redis/keys.ts";
import { describeWith, SERVICE_HOST, SERVICE_PORTS, uniqueName } from "../helpers/services.ts";
import { MONDAY } from "./replay.ts";

const clients: Redis[] = [];
const client = (port = SERVICE_PORTS.redis) => {
  const c = new Redis({
    host: SERVICE_HOST,
    port,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    lazyConnect: port !== SERVICE_PORTS.redis,
    retryStrategy: () => null,
  });
  c.on("error", () => {});
  clients.push(c);
  return c;
};
afterAll(() => {
  for (const c of clients) c.disconnect();
});
const ready = async (c: Redis) => {
  if (c.status !== "ready") await new Promise((resolve) => c.once("ready", resolve));
  return c;
};

interface Instance {
  limiter: SpikeLimiter;
  farm: FarmSync;
  passed: number;
  dropped: number;
}

/** `perSecond` reports of one project's errors at second `t` for each instance, then one sync each. */
async function second(instances: Instance[], perSecond: number[], t: number): Promise<void> {
  instances.forEach((inst, i) => {
    const n = perSecond[i]!;
    for (let k = 0; k < n; k++) {
      const v = inst.limiter.check(1, "error", null, t + Math.floor((k * 1000) / n));
      if (v === Verdict.pass) inst.passed++;
      else inst.dropped++;
    }
  });
  await Promise.all(instances.map((inst) => inst.farm.sync(t + 999)));
}

await describeWith("redis", "spike protection shared by a farm", () => {
  const prefix = uniqueName("cyclops_spike");
  afterAll(async () => {
    const c = await ready(client());
    const keys = await c.keys(keyPatterns(prefix)[0]!);
    if (keys.length) await c.del(...keys);
  });

  test("one baseline for the farm; a storm on one instance passes about one farm limit", async () => {
    const redis = await ready(client());
    const make = (): Instance => {
      // A floor over each instance's start (300 a minute), so the first minute is no episode.
      const limiter = new SpikeLimiter({ mode: "enforce", floor: 600 });
      return { limiter, farm: new FarmSync(limiter, redis, prefix), passed: 0, dropped: 0 };
    };
    const a = make();
    const b = make();
    // 70 minutes at 10 reports a second for the farm, split evenly (600 a minute).
    let t = MONDAY;
    for (let s = 0; s < 70 * 60; s++, t += 1000) await second([a, b], [5, 5], t);
    expect(a.dropped + b.dropped).toBe(0);
    const limitA = a.limiter.limitOf(1, "error")!;
    const limitB = b.limiter.limitOf(1, "error")!;
    // Learned from the farm's 600 a minute (× 3), not from each instance's 300.
    expect(limitA).toBeGreaterThan(1500);
    expect(Math.abs(limitA - limitB) / limitA).toBeLessThan(0.05);

    // A storm of 500 a second lands on instance a alone, for 3 minutes; b keeps its 5 a second.
    a.passed = b.passed = 0;
    for (let s = 0; s < 180; s++, t += 1000) await second([a, b], [500, 5], t);
    const farmPassed = a.passed + b.passed;
    const allowed = limitA * 3;
    console.log(`farm limit ${limitA.toFixed(0)}/min: the farm passed ${farmPassed} in 3 minutes (allowed ${allowed.toFixed(0)}), a ${a.passed}, b ${b.passed}`);
    expect(farmPassed).toBeLessThanOrEqual(allowed * 1.1);
    // Without the farm, a would have enforced its own half: the farm lets about the whole limit through.
    expect(farmPassed).toBeGreaterThan(allowed * 0.75);
    // b's own 5 a second are the same project: they share the one limit, in proportion, never shut out.
    expect(b.passed).toBeGreaterThan(0);
  }, 120_000);

  test("Redis unreachable: each instance limits on its own, never lifting the limit nor refusing all", async () => {
    const limiter = new SpikeLimiter({ mode: "enforce", floor: 60 });
    const changes: boolean[] = [];
    const inst: Instance = { limiter, farm: new FarmSync(limiter, client(1), prefix, (up) => changes.push(up)), passed: 0, dropped: 0 };
    let t = MONDAY;
    for (let s = 0; s < 120; s++, t += 1000) await second([inst], [1], t);
    expect(changes).toEqual([false]);
    expect(inst.dropped).toBe(0);
    inst.passed = 0;
    for (let s = 0; s < 60; s++, t += 1000) await second([inst], [100], t);
    expect(inst.dropped).toBeGreaterThan(5000);
    expect(inst.passed).toBeLessThan(limiter.limitOf(1, "error")! * 1.2 + 20);
    expect(inst.passed).toBeGreaterThan(0);
  }, 60_000);
});

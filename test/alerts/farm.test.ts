import { afterAll, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { Alerts } from "../../src/alerts/alerts.ts";
import { RedisFarm } from "../../src/alerts/farm.ts";
import { silentLogger } from "../../src/log.ts";
import { describeWith, uniqueName } from "../helpers/services.ts";

await describeWith("redis", "RedisFarm: one start and one resolve across instances", () => {
  const redis = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: false });
  const prefix = uniqueName("cyclops_alerts");
  afterAll(async () => {
    const keys = await redis.keys(`{${prefix}}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  test("three instances see the same flood: the webhook gets one start and one resolve, with the farm's drop count", async () => {
    let clock = 1_700_000_000_000;
    const sent: Array<{ event: string; dropped?: number }> = [];
    const fetchImpl = (async (_url: string, init: RequestInit) => {
      sent.push(JSON.parse(String(init.body)));
      return new Response("ok");
    }) as unknown as typeof fetch;
    const config = { ALERTS: [{ url: "http://hook.example/", format: "json" as const }], ALERT_MIN_DROPS_PER_MINUTE: 10, ALERT_RESOLVE_SECONDS: 5 };
    const farm = new RedisFarm(redis, prefix, 5000);
    const instances = ["a", "b", "c"].map((instance) => new Alerts({ config, log: silentLogger(), instance, farm, now: () => clock, delivery: { fetchImpl } }));
    for (let i = 0; i < 300; i++) instances[i % 3]!.drop(1, "flood", "error", { message: "boom" });
    for (const a of instances) await a.tick(clock);
    clock += 1000;
    // Instance c goes on dropping while a and b are quiet: nobody may resolve before c is quiet too.
    for (let s = 0; s < 6; s++) {
      instances[2]!.drop(1, "flood", "error", null);
      for (const a of instances) await a.tick(clock);
      clock += 1000;
    }
    expect(sent.filter((m) => m.event === "resolve")).toEqual([]);
    clock += 5000;
    for (let round = 0; round < 3; round++) for (const a of instances) await a.tick(clock);
    await Bun.sleep(50);
    expect(sent.map((m) => m.event).sort()).toEqual(["resolve", "start"]);
    expect(sent.find((m) => m.event === "resolve")!.dropped).toBe(306);
    // The farm's members: each instance's heartbeat.
    const members = await farm.members("a", clock, 15_000);
    expect(members.map((m) => m.id)).toEqual(["a"]);
  });
});

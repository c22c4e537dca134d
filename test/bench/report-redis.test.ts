/**
 * The Redis topology part of docs/BENCHMARKS.md (bench/lib/report-redis.ts) and how round trips
 * are counted from the commands sent (bench/lib/redis-topology.ts). No Redis runs here: canned
 * results.
 */
import { describe, expect, test } from "bun:test";
import { roundTrips, sentBetween } from "../../bench/lib/redis-commands.ts";
import type { TopologyResult, TopologyResults } from "../../bench/lib/redis-topology.ts";
import { topologySection, topologyVerdict } from "../../bench/lib/report-redis.ts";

function run(label: string, cluster: boolean, sent: Array<[string, number]>, accepted = 1000): TopologyResult {
  const commands = sent.reduce((a, [, v]) => a + v, 0);
  return {
    label,
    cluster,
    accepted,
    events: 1000,
    processed: 1500,
    perSecond: 5000,
    sent,
    commandsPerReport: commands / accepted,
    roundTripsPerReport: roundTrips(sent, cluster) / accepted,
  };
}

const results = (runs: TopologyResults["runs"]): TopologyResults => ({ setup: { events: 1000, conns: 64 }, loadBefore: "1.00 1.00 1.00", loadAfter: "2.00 1.50 1.20", runs });

describe("round trips per report", () => {
  test("the commands sent are the gateway's, counted between two readings; what scripts run inside is not", () => {
    const before = new Map([
      ["evalsha", 10],
      ["hset", 500],
      ["wait", 4],
    ]);
    const after = new Map([
      ["evalsha", 50],
      ["hset", 9000],
      ["wait", 4],
      ["exists", 2],
    ]);
    expect(sentBetween(before, after)).toEqual([
      ["evalsha", 40],
      ["exists", 2],
    ]);
  });
  test("on a cluster, an EXISTS pipelined with its WAIT is not a round trip of its own", () => {
    expect(
      roundTrips(
        [
          ["evalsha", 40],
          ["wait", 40],
          ["exists", 40],
        ],
        true,
      ),
    ).toBe(80);
  });
  test("an EXISTS without a WAIT counts, and one Redis has no pipeline to share", () => {
    expect(
      roundTrips(
        [
          ["evalsha", 40],
          ["exists", 3],
        ],
        true,
      ),
    ).toBe(43);
    expect(
      roundTrips(
        [
          ["evalsha", 40],
          ["wait", 40],
          ["exists", 40],
        ],
        false,
      ),
    ).toBe(120);
  });
});

describe("the bar: round trips per accepted report on a cluster ≤ 0.2", () => {
  const single = run("one Redis", false, [["evalsha", 900]]);
  const masters = run("cluster, 3 masters", true, [["evalsha", 41]]);
  const withWait = run("cluster, 3 masters + 3 replicas, REDIS_WAIT_REPLICAS 1", true, [
    ["evalsha", 56],
    ["wait", 56],
    ["exists", 56],
  ]);

  test("passes on the cluster runs, whatever one Redis does", () => {
    const v = topologyVerdict(results([single, masters, withWait]));
    expect(v.ok).toBe(true);
    expect(v.bar).toBe("≤ 0.2");
    expect(v.measured).toBe("cluster, 3 masters: 0.041; cluster, 3 masters + 3 replicas, REDIS_WAIT_REPLICAS 1: 0.112");
  });
  test("fails when one cluster run is over it", () => {
    const heavy = run("cluster, 3 masters", true, [["evalsha", 201]]);
    expect(topologyVerdict(results([single, heavy, withWait])).ok).toBe(false);
  });
  test("is not measured when not run, failed, or a cluster run failed and the others passed", () => {
    expect(topologyVerdict(undefined).ok).toBeNull();
    expect(topologyVerdict({ failed: "redis-server not found" }).measured).toBe("failed: redis-server not found");
    const v = topologyVerdict(results([single, masters, { label: "cluster, 3 masters + 3 replicas, REDIS_WAIT_REPLICAS 1", failed: "x" }]));
    expect(v.ok).toBeNull();
    expect(v.measured).toContain("REDIS_WAIT_REPLICAS 1: failed");
  });
});

describe("the section", () => {
  test("one row per topology with its commands, round trips and reports/s, and the load average", () => {
    const withWait = run("cluster, 3 masters + 3 replicas, REDIS_WAIT_REPLICAS 1", true, [
      ["evalsha", 56],
      ["wait", 56],
      ["exists", 56],
    ]);
    const text = topologySection(results([run("one Redis", false, [["evalsha", 42]], 990), withWait])).join("\n");
    expect(text).toContain("## Redis: one server against a cluster");
    expect(text).toContain("Load average before / after: 1.00 1.00 1.00 / 2.00 1.50 1.20.");
    expect(text).toContain("| one Redis | 0.042 (42 EVALSHA) | 0.042 | 5,000 | 10 not accepted |");
    expect(text).toContain(
      "| cluster, 3 masters + 3 replicas, REDIS_WAIT_REPLICAS 1 | 0.168 (56 EVALSHA, 56 WAIT, 56 EXISTS) | 0.112 | 5,000 | WAIT and its EXISTS share a pipeline |",
    );
  });
  test("is absent when not run and says why when it failed", () => {
    expect(topologySection(undefined)).toEqual([]);
    expect(topologySection({ failed: "boom" }).join("\n")).toContain("failed: boom");
  });
});

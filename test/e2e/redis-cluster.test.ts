/**
 * A farm of three cyclops processes on a Redis Cluster (REDIS_CLUSTER):
 * - a flood of one error over the three is cut at MAX_CACHE_USES farm-wide, as on one Redis
 *   (the shared cluster of .ci/services.sh);
 * - the cluster in fail state: reports are refused with Retry-After, and accepted again once the
 *   cluster is ok, without a restart;
 * - REDIS_WAIT_REPLICAS 1, 2,400 reports of two projects, and the master holding one project
 *   killed -9 mid-load (a private cluster): its replica takes over, every report answered 200
 *   reaches Sentry, and duplicates stay within 1 %.
 */
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import calculateSlot from "cluster-key-slot";
import type { Config } from "../../src/config/schema.ts";
import { projectKeys, projectsKey } from "../../src/redis/keys.ts";
import { startFakeSentry, type FakeSentry } from "../helpers/fake-sentry.ts";
import type { TestGateway } from "../helpers/gateway.ts";
import { startPrivateCluster } from "../helpers/redis-cluster.ts";
import { CLUSTER_SEEDS, describeWith, uniqueName } from "../helpers/services.ts";
import { deleteRedisPrefix } from "../storage/redis-cleanup.ts";
import {
  delivery,
  expectAlive,
  expectFarmFloodCut,
  Fixture,
  isRefusal,
  KEY,
  KEY_2,
  newEventId,
  PROJECT,
  PROJECT_2,
  runLoad,
  sendEvent,
  TWO_PROJECT_KEYS,
  TWO_PROJECT_SENTRY_KEYS,
  waitForDelivery,
  waitUntil,
} from "./helpers.ts";

const seeds = (nodes: { host: string; port: number }[]) => nodes.map((n) => `${n.host}:${n.port}`);

await describeWith("redis-cluster", "a farm of three on Redis Cluster", () => {
  let fake: FakeSentry;
  const fixture = new Fixture();
  const prefixes: string[] = [];

  beforeAll(async () => {
    fake = await startFakeSentry({ keys: TWO_PROJECT_SENTRY_KEYS });
  });
  afterEach(() => fixture.stopAll());
  afterAll(async () => {
    await fixture.close();
    await fake.stop();
    for (const prefix of prefixes) await deleteRedisPrefix(prefix, "cluster");
  });

  async function farm(settings: Partial<Config>): Promise<TestGateway[]> {
    const prefix = uniqueName("cyclops_e2e_cluster");
    prefixes.push(prefix);
    const all: Partial<Config> = {
      STORAGE: "redis",
      REDIS_CLUSTER: seeds(CLUSTER_SEEDS),
      REDIS_KEY_PREFIX: prefix,
      SENTRY_BASE_URL: fake.url,
      PROJECT_KEYS: TWO_PROJECT_KEYS,
      PACING: "adaptive",
      MAX_CONCURRENCY: 8,
      ...settings,
    };
    return Promise.all([0, 1, 2].map(() => fixture.cyclops(all)));
  }

  test("a flood of one error over the three is cut at MAX_CACHE_USES farm-wide", async () => {
    fake.reset();
    const nodes = await farm({ CACHE_IMPLEMENTATION_CLASS: "redis", MAX_CACHE_USES: 5, URL_CACHE_EXPIRATION: 60 });
    await expectFarmFloodCut(nodes, fake, "the same error, again and again, on a cluster");
  }, 60_000);

  test("the cluster in fail state: reports are refused with Retry-After, then accepted again without a restart", async () => {
    fake.reset();
    const cluster = await startPrivateCluster(3, 0);
    try {
      const prefix = uniqueName("cyclops_e2e_clusterdown");
      // Stop a master holding neither project 1's keys nor the farm's set of projects.
      const used = [await cluster.masterOf(calculateSlot(projectKeys(prefix, PROJECT).stats)), await cluster.masterOf(calculateSlot(projectsKey(prefix)))];
      const victim = cluster.nodes.find((n) => !used.includes(n.port))!;
      const [node] = await Promise.all(
        [0].map(() => fixture.cyclops({ STORAGE: "redis", REDIS_CLUSTER: seeds(cluster.seeds), REDIS_KEY_PREFIX: prefix, SENTRY_BASE_URL: fake.url })),
      );
      const acked: string[] = [];
      const send = async () => {
        const id = newEventId();
        const r = await sendEvent(node!.url, id, `clusterdown ${id}`);
        if (r.status === 200) acked.push(id);
        return r;
      };
      expect((await send()).status).toBe(200);
      victim.proc.kill("SIGSTOP");
      try {
        await cluster.waitState("fail", used);
        const refused = await send();
        console.log(`[cluster fail state] answered ${refused.status}, Retry-After ${refused.retryAfter}, X-Sentry-Rate-Limits ${refused.rateLimits}`);
        expect(isRefusal(refused)).toBe(true);
      } finally {
        victim.proc.kill("SIGCONT");
      }
      await cluster.waitState("ok");
      await waitUntil(
        async () => (await send()).status === 200,
        20_000,
        () => "never accepted again after the cluster recovered",
      );
      expectAlive(node!);
      expect((await waitForDelivery(acked, fake, 20_000)).missing).toEqual([]);
    } finally {
      await fixture.stopAll();
      await cluster.stop();
    }
  }, 90_000);

  test("REDIS_WAIT_REPLICAS 1: a master killed -9 mid-load loses nothing answered 200", async () => {
    fake.reset();
    fake.setBehaviour({ latencyMs: 20 });
    const cluster = await startPrivateCluster(3, 1);
    try {
      await cluster.waitReplicated();
      const prefix = uniqueName("cyclops_e2e_failover");
      const victimPort = await cluster.masterOf(calculateSlot(projectKeys(prefix, PROJECT).stats));
      const victim = cluster.nodes.find((n) => n.port === victimPort)!;
      const nodes = await farm({
        REDIS_CLUSTER: seeds(cluster.seeds),
        REDIS_KEY_PREFIX: prefix,
        REDIS_WAIT_REPLICAS: 1,
        REDIS_LEASE_TIME: 3,
        UPSTREAM_TIMEOUT: 1,
        URL_CACHE_EXPIRATION: 0,
      });
      let acks = 0;
      let killedAt = -1;
      const result = await runLoad({
        total: 2400,
        concurrency: 24,
        target: (i) => nodes[i % 3]!.url,
        project: (i) => (i % 2 ? [PROJECT_2, KEY_2] : [PROJECT, KEY]),
        backoffMs: 20,
        onResult: (r) => {
          if (r.status === 200 && ++acks === 600) {
            killedAt = acks;
            victim.proc.kill(9);
            // A supervisor brings it back once its replica has taken over: it rejoins as the replica.
            void (async () => {
              await victim.proc.exited;
              await Bun.sleep(3000);
              cluster.restart(victimPort);
            })();
          }
        },
      });
      expectAlive(...nodes);
      expect(killedAt).toBe(600);
      expect(await cluster.masterOf(calculateSlot(projectKeys(prefix, PROJECT).stats))).not.toBe(victimPort);
      const d = await waitForDelivery(result.acked, fake, 60_000);
      await Bun.sleep(500);
      const final = delivery(result.acked, fake);
      console.log(
        `[cluster failover] ${result.sent} sent, ${final.acked} answered 200, ${JSON.stringify(result.statuses)}, ` +
          `${final.delivered} delivered, ${final.duplicates} duplicates, ${final.unacknowledged} delivered without a 200`,
      );
      expect(d.missing).toEqual([]);
      expect(final.duplicates).toBeLessThanOrEqual(Math.floor(final.acked / 100));
      expect(Object.keys(result.statuses).filter((s) => !["200", "429"].includes(s))).toEqual([]);
      expect(fake.violations).toEqual([]);
    } finally {
      await fixture.stopAll();
      await cluster.stop();
    }
  }, 120_000);
});

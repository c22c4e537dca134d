/**
 * The commands the gateway sends Redis, counted on the servers (INFO commandstats), and the round
 * trips they make. No process starts here, so the tests import it.
 */
import { Redis } from "ioredis";

/** What the gateway sends (the rest of INFO commandstats is what the scripts run inside). */
const CLIENT_COMMANDS = new Set(["evalsha", "eval", "sadd", "smembers", "wait", "exists", "cluster"]);

/** Commands the servers on `ports` have run, by command name, summed. */
export async function commandStats(ports: number[]): Promise<Map<string, number>> {
  const total = new Map<string, number>();
  for (const port of ports) {
    const c = new Redis({ host: "127.0.0.1", port, lazyConnect: true });
    await c.connect();
    for (const [, name, calls] of (await c.info("commandstats")).matchAll(/cmdstat_(\w+):calls=(\d+)/g)) total.set(name!, (total.get(name!) ?? 0) + Number(calls));
    c.disconnect();
  }
  return total;
}

/** The gateway's commands run between two commandStats, by name, those with none left out. */
export function sentBetween(before: Map<string, number>, after: Map<string, number>): Array<[string, number]> {
  return [...after]
    .filter(([k]) => CLIENT_COMMANDS.has(k))
    .map(([k, v]): [string, number] => [k, v - (before.get(k) ?? 0)])
    .filter(([, v]) => v > 0);
}

/** Round trips from the commands sent: on a cluster, WAIT goes in one pipeline with the EXISTS that routes it (src/redis/connection.ts). */
export function roundTrips(sent: Array<[string, number]>, cluster: boolean): number {
  const n = (name: string) => sent.find(([k]) => k === name)?.[1] ?? 0;
  const total = sent.reduce((a, [, v]) => a + v, 0);
  return cluster ? total - Math.min(n("exists"), n("wait")) : total;
}

/**
 * Events the runner sends itself (not through wrk): fixed-size batches for prefilling a queue,
 * and a steady feeder that keeps cyclops's queue non-empty while the forwarder is measured.
 */
import { newSeed, render } from "./payloads.ts";
import { PUBLIC_KEY, type Server } from "./servers.ts";

const HEADERS = {
  "Content-Type": "application/json",
  "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=bench/1.0, sentry_key=${PUBLIC_KEY}`,
};

let counter = 0;

async function postOne(server: Server, template: string, seed: string): Promise<boolean> {
  const res = await fetch(`${server.url}/api/1/store/`, { method: "POST", headers: HEADERS, body: render(template, seed, ++counter) });
  await res.arrayBuffer();
  return res.ok;
}

/** Sends `n` distinct events with `concurrency` requests in flight; returns how many were accepted. */
export async function postEvents(server: Server, template: string, n: number, concurrency = 32): Promise<number> {
  const seed = newSeed();
  let sent = 0;
  let ok = 0;
  const worker = async () => {
    while (sent < n) {
      sent++;
      if (await postOne(server, template, seed).catch(() => false)) ok++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return ok;
}

export interface Feeder {
  stop(): Promise<number>;
}

/** Posts about `perSecond` distinct events per second until stopped; resolves with the count sent. */
export function startFeeder(server: Server, template: string, perSecond: number): Feeder {
  const seed = newSeed();
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((perSecond * tickMs) / 1000));
  let running = true;
  let sent = 0;
  const pending = new Set<Promise<unknown>>();
  const loop = (async () => {
    let next = performance.now();
    while (running) {
      for (let i = 0; i < perTick && pending.size < 256; i++) {
        const p = postOne(server, template, seed)
          .catch(() => false)
          .finally(() => pending.delete(p));
        pending.add(p);
        sent++;
      }
      next += tickMs;
      await Bun.sleep(Math.max(0, next - performance.now()));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await Promise.allSettled([...pending]);
      return sent;
    },
  };
}

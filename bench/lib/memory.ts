/**
 * Memory per queued event: cyclops with memory storage and an unreachable Sentry (nothing drains),
 * VmRSS read before and after queueing 100,000 distinct ~2.2 KB events; bytes per queued
 * event = ΔRSS / Δqueued, compared with the payload's own size.
 */
import { postEvents } from "./client.ts";
import type { Payloads } from "./payloads.ts";
import { vmRssKb } from "./proc.ts";
import { baseConfig, closedPort, count, startCyclops, type CyclopsOptions, type Server } from "./servers.ts";

export interface MemoryResult {
  queued: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  bytesPerEvent: number;
  payloadBytes: number;
  ratio: number;
  notes: string[];
  /** Ratios of every run when repeated (memoryPerEventMedian); the fields above are the median run's. */
  ratios?: number[];
}

export async function memoryPerEvent(p: Payloads, events: number, opts: CyclopsOptions = {}): Promise<MemoryResult> {
  let server: Server | null = null;
  try {
    server = await startCyclops(baseConfig({ SENTRY_BASE_URL: `http://127.0.0.1:${closedPort()}`, MAX_QUEUE_ITEMS: events * 4 }), opts);
    // Warm-up: JIT, first heap growth, connection pool; these events stay queued and are not counted.
    await postEvents(server, p.eventTemplate, 3000, 16);
    await Bun.sleep(1000);
    const before = await count(server);
    const rssBefore = vmRssKb(server.child.pid);
    // The runner's own client, not wrk: wrk cannot stop after a number of requests.
    const accepted = await postEvents(server, p.eventTemplate, events, 64);
    await Bun.sleep(2000);
    const rssAfter = vmRssKb(server.child.pid);
    const after = await count(server);
    const queued = after.count - before.count;
    const bytesPerEvent = ((rssAfter - rssBefore) * 1024) / queued;
    const notes: string[] = [];
    if (accepted < events) notes.push(`${events - accepted} of ${events} events refused`);
    return {
      queued,
      rssBeforeMb: rssBefore / 1024,
      rssAfterMb: rssAfter / 1024,
      bytesPerEvent,
      payloadBytes: p.eventBytes,
      ratio: bytesPerEvent / p.eventBytes,
      notes,
    };
  } finally {
    if (server) await server.stop();
  }
}

/**
 * memoryPerEvent `runs` times on fresh servers, the median run (by ratio) with every ratio: ΔRSS
 * counts the run's uncollected garbage too, which alone moved single runs by ±0.2× of the payload.
 */
export async function memoryPerEventMedian(p: Payloads, events: number, runs: number, opts: CyclopsOptions = {}, log?: (s: string) => void): Promise<MemoryResult> {
  const results: MemoryResult[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await memoryPerEvent(p, events, opts);
    log?.(`    run ${i + 1}: ${Math.round(r.bytesPerEvent)} B per queued event (${r.ratio.toFixed(2)}× payload)`);
    results.push(r);
  }
  const sorted = [...results].sort((a, b) => a.ratio - b.ratio);
  return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, ratios: results.map((r) => r.ratio) };
}

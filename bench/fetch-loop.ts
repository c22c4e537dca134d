/**
 * The floor for forwarding CPU: a bare loop of `fetch` POSTs of one event body to the upstream,
 * `--in-flight` at a time, and nothing else. Prints `FETCH_LOOP {"requests","seconds","cpuUsPerRequest"}`.
 * Run by bench/run.ts on core 0 against the fake upstream on core 1, beside cyclops's own figure.
 *
 *   bun bench/fetch-loop.ts --upstream URL --requests N --in-flight C --body FILE
 */
import { readFileSync } from "node:fs";

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : def;
};
const url = `${arg("--upstream", "http://127.0.0.1:9000")}/api/1/store/`;
const requests = Number(arg("--requests", "10000"));
const inFlight = Number(arg("--in-flight", "32"));
const body = new Uint8Array(readFileSync(arg("--body", "bench/payloads/event.json")));
const headers = { "Content-Type": "application/json" };

async function worker(count: () => boolean): Promise<void> {
  while (count()) {
    const res = await fetch(url, { method: "POST", headers, body });
    await res.arrayBuffer();
  }
}

async function round(n: number): Promise<void> {
  let left = n;
  await Promise.all(Array.from({ length: inFlight }, () => worker(() => left-- > 0)));
}

await round(Math.min(2000, requests)); // warm-up: JIT and connections
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await round(requests);
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuUs = cpu.user + cpu.system;
process.stdout.write(`FETCH_LOOP ${JSON.stringify({ requests, seconds, cpuUsPerRequest: cpuUs / requests })}\n`);

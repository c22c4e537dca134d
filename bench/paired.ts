/**
 * Paired A/B of ingest CPU: two (or more) servers share core 0 and are loaded at the same time,
 * one wrk each on core 1, so whatever the host does to the core hits them alike. Each round
 * starts fresh servers, warms them up, measures them together, and reports each one's server CPU
 * per request and its ratio to the first target's. On this VM solo runs minutes apart differ by
 * 15–50 %; paired, a ratio repeats within about ±2 % round to round, which is what a change
 * worth a few percent needs. The absolute µs are higher than solo (two servers on one core share
 * its caches): read the ratios.
 *
 *   bun bench/paired.ts TARGET,TARGET[,…] [--rounds 5] [--seconds 5] [--warm 2] [--projects N]
 *
 * Targets: `baseline` (bench/baseline.ts), `floor` or `floor:SKIP,…` (bench/floor.ts without
 * those steps), `cyclops` or `cyclops:{"OPTION":value}` (this checkout, extra config), and
 * `at:DIR` (cyclops from another checkout, e.g. `git worktree add /tmp/old HEAD~3` with
 * node_modules linked). CYCLOPS_ENV_<N>='{"VAR":"value"}' adds environment to the N-th target
 * (from 0). With --projects N > 1 each cyclops gets N keys and wrk picks one per request.
 */
import { buildPayloads, newSeed } from "./lib/payloads.ts";
import { baseConfig, benchTempDir, closedPort, PUBLIC_KEY, startBaseline, startCyclops, type Server } from "./lib/servers.ts";
import { cyclopsConfig } from "./lib/sustained.ts";
import { measureWrk } from "./lib/wrk.ts";

const argv = process.argv.slice(2);
const num = (name: string, def: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const targets = (argv[0] ?? "baseline,cyclops").split(/,(?=baseline|floor|cyclops|at:)/);
const rounds = num("--rounds", 5);
const seconds = num("--seconds", 5);
const warmSeconds = num("--warm", 2);
const projects = num("--projects", 1);

const payloads = buildPayloads(benchTempDir(), 0);
const script = projects > 1 ? "store-projects.lua" : "store-distinct.lua";
const env = { BENCH_PATH: "/api/1/store/", BENCH_KEY: PUBLIC_KEY, BENCH_TEMPLATE: payloads.eventTemplateFile, BENCH_PROJECTS: String(projects) };

function split(target: string): [string, string] {
  const colon = target.indexOf(":");
  return colon < 0 ? [target, ""] : [target.slice(0, colon), target.slice(colon + 1)];
}

async function start(target: string, index: number): Promise<Server> {
  const [kind, arg] = split(target);
  const extraEnv = JSON.parse(process.env[`CYCLOPS_ENV_${index}`] ?? "{}") as Record<string, string>;
  if (kind === "baseline") return startBaseline(extraEnv);
  if (kind === "floor") return startBaseline({ ...extraEnv, FLOOR_SKIP: arg }, [], "bench/floor.ts");
  // The ingest runs' config (a queue nothing drains) with the sustained bench's keys.
  const config = baseConfig({ ...cyclopsConfig(`http://127.0.0.1:${closedPort()}`, projects), ...(kind === "cyclops" && arg ? JSON.parse(arg) : {}) });
  if (kind === "cyclops") return startCyclops(config, { env: extraEnv });
  if (kind === "at") return startCyclops(config, { env: extraEnv, script: `${arg}/src/main.ts` });
  throw new Error(`unknown target ${target}`);
}

const cpu: number[][] = targets.map(() => []);
for (let r = 0; r < rounds; r++) {
  const servers: Server[] = [];
  try {
    for (const [i, t] of targets.entries()) servers.push(await start(t, i));
    const load = (s: Server, secs: number) => measureWrk(s, { script, conns: 16, seconds: secs, env: { ...env, BENCH_SEED: newSeed() } });
    await Promise.all(servers.map((s) => load(s, warmSeconds)));
    const measured = await Promise.all(servers.map((s) => load(s, seconds)));
    measured.forEach((m, i) => cpu[i]!.push(m.cpuUsPerReq));
    console.log(`round ${r + 1}: ${measured.map((m, i) => `${targets[i]} ${m.cpuUsPerReq.toFixed(1)} µs/req (${m.rps.toFixed(0)}/s)`).join("  ")}`);
  } finally {
    for (const s of servers) await s.stop();
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
for (const [i, t] of targets.entries()) {
  const ratios = cpu[i]!.map((x, r) => cpu[0]![r]! / x);
  console.log(`${t}: ${median(cpu[i]!).toFixed(1)} µs/req; ${targets[0]} ÷ it per round ${ratios.map((x) => x.toFixed(2)).join(" ")}, median ${median(ratios).toFixed(2)}`);
}
process.exit(0);

/**
 * `cyclops count HOST PORTS`: asks /count of every instance concurrently (with a timeout) and
 * prints each and the farm's totals in the original cyclops-count's words. Averages are weighted
 * by the number of response times behind them, not averaged as averages. Exit 1, naming them,
 * when some instances did not answer.
 */
import type { CountDocument } from "../stats/count-document.ts";
import { UsageError, type CliIO } from "./io.ts";

export function parsePorts(spec: string): number[] {
  const ports: number[] = [];
  for (const part of spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new UsageError(`count: bad ports ${JSON.stringify(part)} (use 9100, 9100-9109 or 9100,9102)`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 1 || to > 65535 || to < from) throw new UsageError(`count: bad port range ${part}`);
    if (to - from > 10000) throw new UsageError(`count: range ${part} is too large`);
    for (let p = from; p <= to; p++) ports.push(p);
  }
  if (ports.length === 0) throw new UsageError("count: no ports given");
  return [...new Set(ports)];
}

export function baseUrl(host: string): { scheme: string; host: string } {
  const m = /^(https?):\/\/([^/]+)\/?$/i.exec(host.trim());
  if (m) return { scheme: m[1]!.toLowerCase(), host: m[2]! };
  if (/^[^/:]+$/.test(host.trim()) || /^\[[0-9a-f:]+\]$/i.test(host.trim())) return { scheme: "http", host: host.trim() };
  throw new UsageError(`count: bad host ${JSON.stringify(host)}`);
}

export interface InstanceCount {
  address: string;
  count: CountDocument | null;
  error: string | null;
}

export interface FarmTotals {
  count: number;
  processed: number;
  ignored: number;
  ignoredPercent: number;
  delivered: number;
  average: number | null;
  percentile: number | null;
  missing: string[];
}

export function farmTotals(instances: InstanceCount[]): FarmTotals {
  const ok = instances.filter((i) => i.count).map((i) => i.count!);
  const sum = (f: (c: CountDocument) => number) => ok.reduce((a, c) => a + f(c), 0);
  const weighted = (f: (c: CountDocument) => number | null) => {
    let total = 0;
    let weight = 0;
    for (const c of ok) {
      const v = f(c);
      if (v === null) continue;
      const w = c.samples > 0 ? c.samples : 1;
      total += v * w;
      weight += w;
    }
    return weight ? total / weight : null;
  };
  const processed = sum((c) => c.processed);
  const ignored = sum((c) => c.ignored);
  return {
    count: sum((c) => c.count),
    processed,
    ignored,
    ignoredPercent: processed + ignored ? (ignored / (processed + ignored)) * 100 : 0,
    delivered: sum((c) => c.delivered ?? 0),
    average: weighted((c) => c.average),
    percentile: weighted((c) => c.percentile),
    missing: instances.filter((i) => !i.count).map((i) => i.address),
  };
}

const TOKEN_HINT = "pass --token <token> or set CYCLOPS_STATS_TOKEN";

async function fetchCount(url: string, timeoutMs: number, token: string | undefined): Promise<CountDocument> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (res.status === 401 || res.status === 403) {
    throw new Error(`HTTP ${res.status}: the instance has a STATS_TOKEN; ${token ? "the token given is not it" : TOKEN_HINT}`);
  }
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const doc = (await res.json()) as CountDocument;
  if (typeof doc?.count !== "number") throw new Error("not a cyclops /count answer");
  return doc;
}

const ms = (v: number | null) => (v === null ? "n/a" : `${v.toFixed(2)}ms`);

export async function countCommand(host: string, portSpec: string, opts: { json?: boolean; timeout: string; token?: string }, io: CliIO): Promise<number> {
  const { scheme, host: h } = baseUrl(host);
  const ports = parsePorts(portSpec);
  const timeout = Number(opts.timeout);
  const token = opts.token ?? process.env.CYCLOPS_STATS_TOKEN;
  if (!(timeout > 0)) throw new UsageError(`count: --timeout must be a positive number of seconds`);
  const instances: InstanceCount[] = await Promise.all(
    ports.map(async (port) => {
      const address = `${h}:${port}`;
      try {
        return { address, count: await fetchCount(`${scheme}://${address}/count`, timeout * 1000, token), error: null };
      } catch (e) {
        return { address, count: null, error: (e as Error).message };
      }
    }),
  );
  const totals = farmTotals(instances);
  if (opts.json) {
    io.out(JSON.stringify({ instances, totals }, null, 2) + "\n");
  } else {
    const lines: string[] = [];
    for (const i of instances) {
      if (i.count) lines.push(`${i.address} has still ${i.count.count} messages to process`);
      else lines.push(`Failed to get count for ${scheme}://${i.address}/count (${i.error}).`, "", `${i.address} was not found!!!`, "");
    }
    lines.push(
      "",
      `Total of ${totals.count} messages to send to sentry from the farm at ${h}.`,
      "",
      `Total ${totals.processed} processed items and ${totals.ignored} ignored items (${totals.ignoredPercent.toFixed(2)}%).`,
      `Average sentry response time is ${ms(totals.average)} and 90% Percentile is ${ms(totals.percentile)}`,
    );
    io.out(lines.join("\n") + "\n");
  }
  if (totals.missing.length) {
    const errors = [...new Set(instances.filter((i) => i.error).map((i) => i.error))];
    io.err(`cyclops count: no answer from ${totals.missing.join(", ")}${errors.length === 1 ? ` (${errors[0]})` : ""}\n`);
    // A token left out is the caller's mistake (exit 2, like any usage error); no answer is the farm's (1).
    return !token && errors.some((e) => e?.includes(TOKEN_HINT)) ? 2 : 1;
  }
  return 0;
}

/**
 * Client reports: telling Sentry, per project, what cyclops discarded, so the project's stats page
 * shows the reports that never reached it (docs/PROTOCOL.md §7). Whoever drops an item reports
 * it: each outcome's reason is declared in the outcome list (src/outcome/outcomes.ts) and
 * recorded by Stats.record into `stats.discarded`, which this file only sends.
 *
 * Every CLIENT_REPORT_INTERVAL seconds, each project with pending counts in `stats.discarded` gets
 * one `client_report` envelope, authenticated with one of its keys. Counts are subtracted only
 * after Sentry answered 2xx, so a failed send is retried next time and nothing is counted twice;
 * discards recorded while a report was in flight stay pending for the next one.
 */
import { clientReportEntry } from "../outcome/outcomes.ts";
import type { DiscardKey, Stats } from "../stats/counters.ts";

export interface DiscardEntry {
  key: DiscardKey;
  reason: string;
  category: string;
  quantity: number;
}

/** Pending discards grouped by project (quantities > 0 only). */
export function pendingByProject(discarded: ReadonlyMap<DiscardKey, number>): Map<number, DiscardEntry[]> {
  const out = new Map<number, DiscardEntry[]>();
  for (const [key, quantity] of discarded) {
    if (!(quantity > 0)) continue;
    const first = key.indexOf("|");
    const second = key.indexOf("|", first + 1);
    const projectId = Number(key.slice(0, first));
    const entry = { key, reason: key.slice(first + 1, second), category: key.slice(second + 1), quantity };
    const list = out.get(projectId);
    if (list) list.push(entry);
    else out.set(projectId, [entry]);
  }
  return out;
}

const encoder = new TextEncoder();

/**
 * The envelope: `{}` header, one client_report item with an explicit length. Discards go in
 * `discarded_events`, cyclops's own 429s in `rate_limited_events` (the outcome list says which).
 */
export function clientReportEnvelope(entries: readonly DiscardEntry[], nowMs: number): Uint8Array {
  const lists: Record<"discarded_events" | "rate_limited_events", { reason: string; category: string; quantity: number }[]> = { discarded_events: [], rate_limited_events: [] };
  for (const e of entries) {
    const { field, reason } = clientReportEntry(e.reason);
    lists[field].push({ reason, category: e.category, quantity: e.quantity });
  }
  const payload = JSON.stringify({
    timestamp: new Date(nowMs).toISOString(),
    discarded_events: lists.discarded_events,
    ...(lists.rate_limited_events.length > 0 ? { rate_limited_events: lists.rate_limited_events } : {}),
  });
  const bytes = encoder.encode(payload);
  const head = `${JSON.stringify({ sent_at: new Date(nowMs).toISOString() })}\n${JSON.stringify({ type: "client_report", length: bytes.byteLength })}\n`;
  const headBytes = encoder.encode(head);
  const out = new Uint8Array(headBytes.byteLength + bytes.byteLength + 1);
  out.set(headBytes, 0);
  out.set(bytes, headBytes.byteLength);
  out[out.byteLength - 1] = 10;
  return out;
}

export interface ClientReportDeps {
  stats: Stats;
  keyFor: (projectId: number) => string | undefined;
  /** Sends the envelope for a project; resolves true when Sentry answered 2xx. Must not throw. */
  send: (projectId: number, publicKey: string, body: Uint8Array) => Promise<boolean>;
  now: () => number;
}

/**
 * Sends one report per project with pending discards and a known key; returns how many were
 * accepted. Projects without a known key keep their counts until one is learned.
 */
export async function sendClientReports(deps: ClientReportDeps): Promise<number> {
  const pending = pendingByProject(deps.stats.discarded);
  let sent = 0;
  await Promise.all(
    [...pending].map(async ([projectId, entries]) => {
      const key = deps.keyFor(projectId);
      if (!key) return;
      const ok = await deps.send(projectId, key, clientReportEnvelope(entries, deps.now()));
      if (!ok) return;
      sent++;
      for (const e of entries) {
        const left = (deps.stats.discarded.get(e.key) ?? 0) - e.quantity;
        if (left > 0) deps.stats.discarded.set(e.key, left);
        else deps.stats.discarded.delete(e.key);
      }
    }),
  );
  return sent;
}

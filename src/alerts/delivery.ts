/**
 * Delivers alert messages to the ALERTS sinks: each matching sink gets its own body, sent in the
 * background with retries and exponential backoff, honouring a sink's 429 Retry-After; after the
 * last attempt the alert is counted as lost. `send` never waits: ingest and the episode tick go
 * on whatever a sink does (hangs, 500, 429, refuses). Pending deliveries are bounded.
 */
import type { AlertSinkConfig } from "../config/schema.ts";
import { alertBody, type AlertMessage } from "./messages.ts";

export interface AlertSink extends AlertSinkConfig {
  /** How logs, metrics and the CLI name the sink: `name`, else the URL's host (a webhook URL's path is its secret). */
  label: string;
}

export const sinkLabel = (s: AlertSinkConfig): string => s.name ?? new URL(s.url).host;

export function toSinks(configs: AlertSinkConfig[]): AlertSink[] {
  return configs.map((c) => ({ ...c, format: c.format ?? "json", label: sinkLabel(c) }));
}

/** Whether a sink wants this message: its project and reason filters, if any (outage and test messages go to all). */
export function sinkWants(sink: AlertSinkConfig, m: AlertMessage): boolean {
  if (m.event !== "start" && m.event !== "resolve") return true;
  if (sink.projects && !sink.projects.includes(m.project)) return false;
  if (sink.reasons && !sink.reasons.includes(m.reason)) return false;
  return true;
}

export type AttemptResult = { ok: true; status: number } | { ok: false; status: number | null; error: string; retryAfterMs: number | null; retry: boolean };

export interface DeliveryOptions {
  fetchImpl?: typeof fetch;
  /** One attempt's time limit. */
  timeoutMs?: number;
  attempts?: number;
  baseMs?: number;
  maxMs?: number;
  /** Most deliveries pending at once; more are counted lost at once. */
  maxPending?: number;
  onLost?: (sink: AlertSink, m: AlertMessage, error: string) => void;
}

export interface DeliveryCounts {
  sent: number;
  retried: number;
  lost: number;
}

/** One POST of `body` to the sink: what happened, and whether trying again can help. */
export async function attempt(sink: AlertSink, body: string, fetchImpl: typeof fetch, timeoutMs: number): Promise<AttemptResult> {
  try {
    const res = await fetchImpl(sink.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "User-Agent": "cyclops-alerts" },
      body,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    const retryAfter = Number(res.headers.get("retry-after"));
    const retry = res.status === 429 || res.status === 408 || res.status >= 500;
    return {
      ok: false,
      status: res.status,
      error: `answered ${res.status}`,
      retryAfterMs: res.status === 429 && retryAfter >= 0 ? retryAfter * 1000 : null,
      retry,
    };
  } catch (e) {
    const name = (e as Error).name;
    const error = name === "TimeoutError" || name === "AbortError" ? `no answer within ${timeoutMs} ms` : `unreachable (${(e as { code?: string }).code ?? name})`;
    return { ok: false, status: null, error, retryAfterMs: null, retry: true };
  }
}

export class AlertDelivery {
  readonly counts: Record<string, DeliveryCounts> = {};
  private readonly pending = new Set<Promise<void>>();
  private readonly fetchImpl: typeof fetch;
  private readonly o: Required<Omit<DeliveryOptions, "fetchImpl" | "onLost">> & Pick<DeliveryOptions, "onLost">;
  private closed = false;

  constructor(
    readonly sinks: AlertSink[],
    opts: DeliveryOptions = {},
  ) {
    this.fetchImpl = opts.fetchImpl ?? fetch;
    this.o = {
      timeoutMs: opts.timeoutMs ?? 10_000,
      attempts: opts.attempts ?? 6,
      baseMs: opts.baseMs ?? 1000,
      maxMs: opts.maxMs ?? 60_000,
      maxPending: opts.maxPending ?? 1000,
      onLost: opts.onLost,
    };
    for (const s of sinks) this.counts[s.label] = { sent: 0, retried: 0, lost: 0 };
  }

  /** Queues the message for every sink that wants it; returns at once. */
  send(m: AlertMessage): void {
    for (const sink of this.sinks) {
      if (!sinkWants(sink, m)) continue;
      if (this.closed || this.pending.size >= this.o.maxPending) {
        this.lost(sink, m, this.closed ? "gateway stopping" : "too many alerts pending");
        continue;
      }
      const p = this.deliver(sink, m).finally(() => this.pending.delete(p));
      this.pending.add(p);
    }
  }

  /** Waits up to `ms` for pending deliveries (shutdown); what is still pending then is lost. */
  async close(ms: number): Promise<void> {
    this.closed = true;
    if (this.pending.size) await Promise.race([Promise.allSettled([...this.pending]), Bun.sleep(ms)]);
  }

  private async deliver(sink: AlertSink, m: AlertMessage): Promise<void> {
    const body = alertBody(m, sink.format);
    const counts = this.counts[sink.label]!;
    let last = "";
    for (let i = 0; i < this.o.attempts; i++) {
      const r = await attempt(sink, body, this.fetchImpl, this.o.timeoutMs);
      if (r.ok) {
        counts.sent++;
        return;
      }
      last = r.error;
      if (!r.retry || i === this.o.attempts - 1 || this.closed) break;
      counts.retried++;
      const backoff = Math.min(this.o.maxMs, this.o.baseMs * 2 ** i) * (0.5 + Math.random() / 2);
      await Bun.sleep(Math.min(this.o.maxMs, r.retryAfterMs ?? backoff));
    }
    this.lost(sink, m, last);
  }

  private lost(sink: AlertSink, m: AlertMessage, error: string): void {
    this.counts[sink.label]!.lost++;
    this.o.onLost?.(sink, m, error);
  }
}

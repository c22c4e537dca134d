/**
 * Every way a report ends, declared once (as Relay's outcome.rs): accepted, each drop at ingest,
 * each rejection, and what the forwarder makes of a queued item. Stats (Stats.record), /metrics,
 * /count and client reports read these declarations; nothing else names a reason by hand.
 *
 * To add a way to end (e.g. a spike cut): declare it here, and have the deciding module (usually
 * src/admission/) return or record it. The counters, metric labels, /count sums and client
 * reports follow from the declaration.
 */

/** Sentry's client-report discard reasons cyclops uses (Sentry's `DiscardReason`). */
export type DiscardReason = "sample_rate" | "event_processor" | "queue_overflow" | "ratelimit_backoff" | "network_error" | "send_error" | "spike_protection";

/**
 * What cyclops refused with a 429 of its own: reported in the client report's
 * `rate_limited_events` (as Relay reports its own rate limits) under this reason code, the one the
 * 429's X-Sentry-Rate-Limits names. SDKs do not report 429s, so the party that refuses must.
 */
export type RateLimitedReason = `rate_limited:${string}`;

/** How an outcome is told to Sentry in client reports: a discard reason, or a rate-limit reason code. */
export type ClientReportReason = DiscardReason | RateLimitedReason;

/** The client-report list and reason an outcome's `clientReport` stands for. */
export function clientReportEntry(reason: string): { field: "discarded_events" | "rate_limited_events"; reason: string } {
  return reason.startsWith("rate_limited:") ? { field: "rate_limited_events", reason: reason.slice("rate_limited:".length) } : { field: "discarded_events", reason };
}

/** The /count fields outcomes add to (the original's processed/ignored, and the forwarder's). */
export type CountField = "processed" | "ignored" | "delivered" | "retried" | "rejected" | "expired";
/** The /count fields also kept per project (the per-project /metrics series). */
export type ProjectCountField = "processed" | "ignored" | "delivered";

export interface OutcomeSpec {
  /**
   * The /metrics counter: `accepted` is cyclops_reports_accepted_total, `dropped` is
   * cyclops_reports_dropped_total{reason=<name>}, `forwarded` is cyclops_forwarded_total{outcome=<name>}.
   */
  series: "accepted" | "dropped" | "forwarded";
  /** The /count field it adds to, or null when /count does not show it (only /metrics does). */
  countField: CountField | null;
  /** Also counted per project, in countField (which must then be a ProjectCountField). */
  perProject: boolean;
  /** Sentry's client-report reason, or null: not lost (accepted, retried) or the client saw an error answer. */
  clientReport: ClientReportReason | null;
  /** Client-report quantity: one per report, in the data category of its main item; null when not reported. */
  category: "main_item" | null;
  /** The HTTP statuses ingest answers with; empty for the forwarder's outcomes (the client was answered 200 long ago). */
  answers: readonly number[];
  /** What it means, for /metrics help and the docs. */
  description: string;
}

const declared = {
  accepted: {
    series: "accepted",
    countField: "processed",
    perProject: true,
    clientReport: null,
    category: null,
    answers: [200],
    description: "accepted and queued (the original's `processed`)",
  },
  flood: {
    series: "dropped",
    countField: "ignored",
    perProject: true,
    clientReport: "event_processor",
    category: "main_item",
    answers: [200],
    description: "same error more than MAX_CACHE_USES times in URL_CACHE_EXPIRATION seconds (answered 200, dropped)",
  },
  sampled: {
    series: "dropped",
    countField: "ignored",
    perProject: true,
    clientReport: "sample_rate",
    category: "main_item",
    answers: [200],
    description: "sampled out by IGNORE_PERCENTAGE (answered 200, dropped)",
  },
  spike: {
    series: "dropped",
    countField: "ignored",
    perProject: true,
    clientReport: "spike_protection",
    category: "main_item",
    answers: [200, 429],
    description: "over the project's spike protection limit for its category (src/spike/; SPIKE_RESPONSE accept: answered 200, dropped; rate-limit: 429)",
  },
  unknown_key: {
    series: "dropped",
    countField: null,
    perProject: false,
    clientReport: null,
    category: null,
    answers: [403],
    description: "unknown, disabled or wrong-project key (403)",
  },
  invalid: {
    series: "dropped",
    countField: null,
    perProject: false,
    clientReport: null,
    category: null,
    answers: [400, 401, 405, 415, 500],
    description: "malformed request: auth, body, JSON or envelope (400/401/405/415)",
  },
  too_large: {
    series: "dropped",
    countField: null,
    perProject: false,
    clientReport: null,
    category: null,
    answers: [413],
    description: "body over MAX_EVENT_SIZE / MAX_ENVELOPE_SIZE (413)",
  },
  queue_full: {
    series: "dropped",
    countField: null,
    perProject: false,
    clientReport: "rate_limited:queue_full",
    category: "main_item",
    answers: [429],
    description: "queue at MAX_QUEUE_ITEMS or MAX_QUEUE_BYTES (429 with Retry-After, reason queue_full)",
  },
  storage_unavailable: {
    series: "dropped",
    countField: null,
    perProject: false,
    clientReport: "rate_limited:storage_unavailable",
    category: "main_item",
    answers: [429],
    description: "storage or flood counters failing: spool full or unwritable, Redis down (429 with Retry-After, reason storage_unavailable)",
  },
  bodies_in_flight: {
    series: "dropped",
    countField: null,
    perProject: false,
    clientReport: "rate_limited:bodies_in_flight",
    category: "main_item",
    answers: [429],
    description: "bodies being read and decoded at MAX_INFLIGHT_BYTES; refused before reading the body (429 with Retry-After, reason bodies_in_flight)",
  },
  keys_pending: {
    series: "dropped",
    countField: null,
    perProject: false,
    clientReport: null,
    category: null,
    answers: [429],
    description: "project keys not loaded yet and the reports held for them at MAX_PENDING_BYTES (429 with Retry-After, reason keys_pending)",
  },
  held_unknown_key: {
    series: "dropped",
    countField: "rejected",
    perProject: false,
    clientReport: "send_error",
    category: "main_item",
    answers: [200],
    description: "held while project keys loaded (answered 200), then its key turned out unknown, disabled or of another project; dropped",
  },
  rate_limited: {
    series: "dropped",
    countField: null,
    perProject: false,
    clientReport: "ratelimit_backoff",
    category: "main_item",
    answers: [429],
    description: "Sentry rate-limited this key; passed back to the client (429)",
  },
  delivered: {
    series: "forwarded",
    countField: "delivered",
    perProject: true,
    clientReport: null,
    category: null,
    answers: [],
    description: "Sentry answered 2xx",
  },
  retried: {
    series: "forwarded",
    countField: "retried",
    perProject: false,
    clientReport: null,
    category: null,
    answers: [],
    description: "Sentry did not receive it (network error, timeout, 5xx) or rate-limited it (429); kept for a retry",
  },
  rejected: {
    series: "forwarded",
    countField: "rejected",
    perProject: false,
    clientReport: "send_error",
    category: "main_item",
    answers: [],
    description: "Sentry answered a 4xx other than 429: it will never take it; dropped",
  },
  expired: {
    series: "forwarded",
    countField: "expired",
    perProject: false,
    clientReport: "network_error",
    category: "main_item",
    answers: [],
    description: "older than MAX_ITEM_AGE or retried more than MAX_RETRIES; dropped",
  },
} as const satisfies Record<string, OutcomeSpec>;

export type OutcomeName = keyof typeof declared;
/** Outcomes counted in cyclops_reports_dropped_total, by reason label. */
export type DropReason = { [K in OutcomeName]: (typeof declared)[K]["series"] extends "dropped" ? K : never }[OutcomeName];
/** Outcomes counted in cyclops_forwarded_total, by outcome label. */
export type ForwardOutcome = { [K in OutcomeName]: (typeof declared)[K]["series"] extends "forwarded" ? K : never }[OutcomeName];

/** One declared outcome; `name` is its /metrics label. */
export type Outcome = OutcomeSpec & { readonly name: OutcomeName };

export const OUTCOMES: { readonly [K in OutcomeName]: Outcome & { readonly name: K } } = Object.fromEntries(
  Object.entries(declared).map(([name, spec]) => [name, Object.freeze({ name, ...spec })]),
) as never;

export const ALL_OUTCOMES: readonly Outcome[] = Object.values(OUTCOMES);

/** The names of the outcomes in one /metrics series, in declaration order. */
export function outcomeNames<S extends OutcomeSpec["series"]>(series: S): (S extends "dropped" ? DropReason : S extends "forwarded" ? ForwardOutcome : OutcomeName)[] {
  return ALL_OUTCOMES.filter((o) => o.series === series).map((o) => o.name) as never;
}

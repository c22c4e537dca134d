/**
 * Sentry's rate limits as cyclops learns them from upstream answers, kept per project so that:
 * - the forwarder holds a limited project's items instead of sending them into a 429 again, and
 * - the ingest path can answer SDKs 429 with the same Retry-After / X-Sentry-Rate-Limits while a
 *   limit lasts (so SDKs back off at the source instead of filling our queue).
 *
 * Wire format (docs/PROTOCOL.md §6): `X-Sentry-Rate-Limits: retry_after:categories:scope:reason:namespaces`
 * limits separated by commas, categories by `;`, empty categories = every category. Without that
 * header a 429's `Retry-After` (seconds or HTTP-date) applies to every category, and without
 * either, 60 s (what the SDKs do).
 */
import { retryAfterSeconds } from "../protocol/retry-after.ts";

export const DEFAULT_RETRY_AFTER_S = 60;
/** Key used for "every category" (empty categories field). */
export const ALL_CATEGORIES = "";

export interface ParsedLimit {
  /** Seconds from now. */
  retryAfter: number;
  /** Categories; empty = all. */
  categories: string[];
  scope: string;
  reason: string | null;
}

/** Parses X-Sentry-Rate-Limits; invalid parts are skipped, as Relay and the SDKs do. */
export function parseRateLimits(header: string | null | undefined): ParsedLimit[] {
  if (!header) return [];
  const out: ParsedLimit[] = [];
  for (const raw of header.split(",")) {
    const part = raw.trim();
    if (!part) continue;
    const fields = part.split(":");
    const retryAfter = Number.parseFloat(fields[0] ?? "");
    if (!Number.isFinite(retryAfter) || retryAfter < 0) continue;
    const categories = (fields[1] ?? "")
      .split(";")
      .map((c) => c.trim())
      .filter((c) => c.length > 0);
    const scope = (fields[2] ?? "").trim();
    const reason = (fields[3] ?? "").trim() || null;
    out.push({ retryAfter, categories, scope, reason });
  }
  return out;
}

/** Retry-After as seconds (number of seconds or HTTP-date); `fallback` when absent or invalid. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number, fallback = DEFAULT_RETRY_AFTER_S): number {
  return retryAfterSeconds(value, nowMs) ?? fallback;
}

/**
 * The limits a response imposes, as SDKs read them: X-Sentry-Rate-Limits when present (on any
 * status), else on a 429 Retry-After (or 60 s) for every category.
 */
/** What is read of an answer's headers: fetch's Headers or the http1 client's. */
export type HeaderReader = Pick<Headers, "get">;

export function limitsFromResponse(status: number, headers: HeaderReader, nowMs: number): ParsedLimit[] {
  const parsed = parseRateLimits(headers.get("x-sentry-rate-limits"));
  if (parsed.length > 0) return parsed;
  if (status !== 429) return [];
  return [{ retryAfter: parseRetryAfter(headers.get("retry-after"), nowMs), categories: [], scope: "key", reason: null }];
}

interface ActiveLimit {
  until: number;
  reason: string | null;
  scope: string;
}

/** Active limits of one project: category ("" = all) → the latest expiry seen (max is kept). */
type ProjectLimits = Map<string, ActiveLimit>;

export interface LimitAnswer {
  /** Whole seconds until the limit ends (at least 1). */
  retryAfter: number;
  /** X-Sentry-Rate-Limits value describing every active limit of the project. */
  header: string;
}

export class RateLimits {
  private readonly byProject = new Map<number, ProjectLimits>();

  /** Records limits; keeps the later expiry per category. Returns the latest expiry set (ms), or 0. */
  apply(projectId: number, limits: ParsedLimit[], nowMs: number): number {
    if (limits.length === 0) return 0;
    let project = this.byProject.get(projectId);
    if (!project) {
      project = new Map();
      this.byProject.set(projectId, project);
    }
    let latest = 0;
    for (const limit of limits) {
      const until = nowMs + limit.retryAfter * 1000;
      latest = Math.max(latest, until);
      const keys = limit.categories.length === 0 ? [ALL_CATEGORIES] : limit.categories;
      for (const key of keys) {
        const current = project.get(key);
        if (!current || current.until < until) project.set(key, { until, reason: limit.reason, scope: limit.scope || "key" });
      }
    }
    return latest;
  }

  /** Whether the project has limits recorded (maybe expired): lets the hot path skip the category. */
  has(projectId: number): boolean {
    return this.byProject.has(projectId);
  }

  /** When the limit covering `category` of `projectId` ends (ms), or 0 when none is active. */
  until(projectId: number, category: string, nowMs: number): number {
    const project = this.byProject.get(projectId);
    if (!project) return 0;
    const all = project.get(ALL_CATEGORIES);
    const own = project.get(category);
    const until = Math.max(all && all.until > nowMs ? all.until : 0, own && own.until > nowMs ? own.until : 0);
    if (until === 0 && (all || own)) this.prune(projectId, project, nowMs);
    return until;
  }

  /** Sync and O(1) for a project with a handful of limits: what ingest answers SDKs with. */
  rateLimitFor(projectId: number, category: string, nowMs: number): LimitAnswer | null {
    const until = this.until(projectId, category, nowMs);
    if (until === 0) return null;
    return { retryAfter: Math.max(1, Math.ceil((until - nowMs) / 1000)), header: this.header(projectId, nowMs) };
  }

  /** X-Sentry-Rate-Limits for the project's active limits (empty when none). */
  header(projectId: number, nowMs: number): string {
    const project = this.byProject.get(projectId);
    if (!project) return "";
    const parts: string[] = [];
    for (const [category, limit] of project) {
      if (limit.until <= nowMs) continue;
      const seconds = Math.max(1, Math.ceil((limit.until - nowMs) / 1000));
      parts.push(`${seconds}:${category}:${limit.scope}${limit.reason ? `:${limit.reason}` : ""}`);
    }
    return parts.join(", ");
  }

  /** Projects with at least one active limit. */
  activeProjects(nowMs: number): number {
    let n = 0;
    for (const [id, project] of this.byProject) {
      this.prune(id, project, nowMs);
      if (this.byProject.has(id)) n++;
    }
    return n;
  }

  private prune(projectId: number, project: ProjectLimits, nowMs: number): void {
    for (const [category, limit] of project) if (limit.until <= nowMs) project.delete(category);
    if (project.size === 0) this.byProject.delete(projectId);
  }
}

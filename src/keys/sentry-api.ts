/**
 * Project keys from Sentry's web API, for sentry.io or any Sentry whose database cyclops cannot
 * reach: list the organization's projects, then each project's active keys
 * (docs/PROTOCOL.md §9). Both lists are cursor-paginated through the `Link` header.
 *
 * Failure policy: the load fails as a whole (the registry keeps its last good set) on 401/403
 * (token rejected), on a second 429 or a Retry-After longer than we wait inside one load, on 5xx,
 * on a network error or on a timeout. Messages name the status and the path, never the token.
 */
import { retryAfterSeconds } from "../protocol/retry-after.ts";
import type { KeySource, ProjectKey } from "./key-source.ts";
import { describeError, redact } from "./redact.ts";

export interface SentryApiOptions {
  /** Sentry's web root, e.g. https://sentry.io (no /api/0). */
  baseUrl: string;
  org: string;
  /** Returns the token; called at each load so a rotated token file is picked up. */
  token: () => string | Promise<string>;
  /** Per-request timeout. */
  requestTimeoutMs?: number;
  /** Longest Retry-After honoured (once per load) before failing the load. */
  maxRetryAfterMs?: number;
  /** Projects whose keys are fetched at the same time. */
  concurrency?: number;
}

interface ApiProject {
  id?: string | number;
  slug?: string;
}

interface ApiKey {
  public?: string;
  id?: string;
  secret?: string | null;
  projectId?: number | string;
  isActive?: boolean;
  roles?: unknown;
  useCase?: string;
  use_case?: string;
}

const MAX_PAGES = 10_000;

/** The cursor of the `rel="next"` link when it says more results follow, else null. */
export function nextCursor(link: string | null): string | null {
  if (!link) return null;
  for (const part of link.split(/,(?=\s*<)/)) {
    const url = /<([^>]*)>/.exec(part)?.[1];
    const attrs: Record<string, string> = {};
    for (const m of part.matchAll(/;\s*([a-z]+)="([^"]*)"/gi)) attrs[m[1]!.toLowerCase()] = m[2]!;
    if (attrs.rel !== "next") continue;
    if (attrs.results !== "true") return null;
    if (attrs.cursor) return attrs.cursor;
    try {
      return url ? new URL(url).searchParams.get("cursor") : null;
    } catch {
      return null;
    }
  }
  return null;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  const seconds = retryAfterSeconds(header, now);
  return seconds === null ? null : seconds * 1000;
}

/** store role where the item says (older APIs), use_case "user" where it says (newer ones). */
function isUsableKey(item: ApiKey): boolean {
  if (item.isActive === false) return false;
  const roles = item.roles;
  if (Array.isArray(roles) && !roles.includes("store")) return false;
  if (typeof roles === "number" && (roles & 1) !== 1) return false;
  if (roles && typeof roles === "object" && !Array.isArray(roles) && (roles as Record<string, unknown>).store === false) return false;
  const useCase = item.useCase ?? item.use_case;
  return useCase === undefined || useCase === "user";
}

/** One load's state: the token and whether the one Retry-After wait was spent. */
interface LoadContext {
  token: string;
  waitedForRateLimit: boolean;
  failed: boolean;
}

export class SentryApiKeySource implements KeySource {
  readonly name = "sentry-api";
  private readonly base: string;
  private readonly requestTimeoutMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly concurrency: number;

  constructor(private readonly options: SentryApiOptions) {
    this.base = options.baseUrl.replace(/\/+$/, "");
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 5_000;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
  }

  async load(): Promise<ProjectKey[]> {
    const token = (await this.options.token()).trim();
    if (!token) throw new Error("the Sentry API token is empty");
    const ctx: LoadContext = { token, waitedForRateLimit: false, failed: false };
    const org = encodeURIComponent(this.options.org);
    const projects = await this.getAllPages<ApiProject>(ctx, `/api/0/organizations/${org}/projects/`, {
      404: `organization "${this.options.org}" not found (404)`,
    });
    const keys: ProjectKey[] = [];
    const pending = projects.filter((p): p is ApiProject & { slug: string } => typeof p.slug === "string");
    // Once one project fails the load is lost: the other workers stop taking projects.
    const worker = async () => {
      for (let project = pending.shift(); project && !ctx.failed; project = pending.shift()) {
        try {
          keys.push(...(await this.projectKeys(ctx, org, project)));
        } catch (e) {
          ctx.failed = true;
          throw e;
        }
      }
    };
    await Promise.all(Array.from({ length: this.concurrency }, worker));
    return keys;
  }

  async close(): Promise<void> {}

  private async projectKeys(ctx: LoadContext, org: string, project: ApiProject & { slug: string }): Promise<ProjectKey[]> {
    const path = `/api/0/projects/${org}/${encodeURIComponent(project.slug)}/keys/?status=active`;
    // A project deleted since the listing answers 404: it simply has no keys any more.
    const items = await this.getAllPages<ApiKey>(ctx, path, { 404: null });
    const out: ProjectKey[] = [];
    for (const item of items) {
      const publicKey = item.public ?? item.id;
      const projectId = Number(item.projectId ?? project.id);
      if (!publicKey || !Number.isSafeInteger(projectId) || projectId <= 0 || !isUsableKey(item)) continue;
      out.push({ projectId, publicKey, secretKey: item.secret || null });
    }
    return out;
  }

  /**
   * Every item of a paginated list. The next page is requested with the cursor from the Link
   * header applied to our own URL, not the link's URL, whose host may be Sentry's internal name.
   * `onStatus` maps a status to a failure message, or to null for "treat as an empty list".
   */
  private async getAllPages<T>(ctx: LoadContext, path: string, onStatus: Record<number, string | null>): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    const seen = new Set<string>();
    for (let page = 0; page < MAX_PAGES; page++) {
      const url = new URL(this.base + path);
      if (cursor !== null) url.searchParams.set("cursor", cursor);
      const res = await this.get(ctx, url, path);
      if (res.status in onStatus) {
        const message = onStatus[res.status];
        if (message === null) return [];
        throw new Error(`${message} at GET ${path}`);
      }
      const body: unknown = await res.json().catch(() => null);
      if (!Array.isArray(body)) throw new Error(`GET ${path} answered ${res.status} without a JSON list`);
      items.push(...(body as T[]));
      cursor = nextCursor(res.headers.get("link"));
      if (cursor === null || seen.has(cursor)) return items;
      seen.add(cursor);
    }
    throw new Error(`GET ${path}: more than ${MAX_PAGES} pages`);
  }

  /** One GET; 2xx and the statuses the caller handles come back, the rest throw. */
  private async get(ctx: LoadContext, url: URL, path: string): Promise<Response> {
    for (;;) {
      let res: Response;
      try {
        res = await fetch(url, {
          headers: { Authorization: `Bearer ${ctx.token}`, Accept: "application/json" },
          signal: AbortSignal.timeout(this.requestTimeoutMs),
          // Not followed: the token must not travel to whatever host a redirect names.
          redirect: "manual",
        });
      } catch (e) {
        throw new Error(redact(`GET ${path} failed: ${describeError(e)}`, [ctx.token]));
      }
      if (res.ok || res.status === 404) return res;
      await res.body?.cancel().catch(() => {});
      if (res.status === 401 || res.status === 403) {
        throw new Error(`token rejected (${res.status}) at GET ${path}; it needs the org:read and project:read scopes`);
      }
      if (res.status === 429) {
        const wait = retryAfterMs(res.headers.get("retry-after")) ?? 1000;
        if (ctx.waitedForRateLimit || wait > this.maxRetryAfterMs) {
          throw new Error(`rate limited (429) at GET ${path}; Retry-After ${Math.ceil(wait / 1000)} s, giving up until the next refresh`);
        }
        ctx.waitedForRateLimit = true;
        await Bun.sleep(wait);
        continue;
      }
      if (res.status >= 300 && res.status < 400) {
        const to = res.headers.get("location") ?? "?";
        throw new Error(`Sentry answered ${res.status} at GET ${path}, redirecting to ${to}; set SENTRY_API_URL to the final address`);
      }
      throw new Error(`Sentry answered ${res.status} at GET ${path}`);
    }
  }
}

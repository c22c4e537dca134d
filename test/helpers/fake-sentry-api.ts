/**
 * A stand-in for Sentry's web API, enough for the sentry-api key source: the organization's
 * project list and each project's keys (docs/PROTOCOL.md §9), with Sentry's cursor pagination
 * (`Link` with rel="previous"/"next", results="true|false", cursor="0:<offset>:<is_prev>"), a
 * Bearer token check, and failures on demand. A real HTTP server on 127.0.0.1, port 0.
 */
import type { Server } from "bun";

export interface FakeKey {
  projectId: number;
  publicKey: string;
  secretKey: string | null;
  /** Default true. */
  active?: boolean;
  /** Default true. Modern Sentry lists only keys with the store role. */
  store?: boolean;
  /** Sent as `useCase` when set, as newer Sentry does. */
  useCase?: string;
}

export interface FakeSentryApiOptions {
  org?: string;
  token?: string;
  pageSize?: number;
  /** Also list non-store keys, with a `roles` array, like an older API; default: hide them as Sentry does. */
  exposeRoles?: boolean;
  /** Ignore `?status=active` and list disabled keys too, to check the client filters them. */
  ignoreStatusFilter?: boolean;
  /** Origin written into Link URLs (Sentry behind a proxy advertises its own name); default: ours. */
  linkOrigin?: string;
}

export interface RecordedRequest {
  path: string;
  search: string;
  authorization: string | null;
}

interface Failure {
  status: number;
  retryAfter?: string;
}

export class FakeSentryApi {
  readonly org: string;
  token: string;
  pageSize: number;
  readonly requests: RecordedRequest[] = [];
  /** Called with each request before it is answered, to change state mid-load. */
  onRequest: ((request: RecordedRequest) => void) | null = null;
  private readonly projects = new Map<string, { id: number; slug: string }>();
  private readonly keys: FakeKey[] = [];
  private readonly failures: Failure[] = [];
  private readonly server: Server<undefined>;

  constructor(private readonly options: FakeSentryApiOptions = {}) {
    this.org = options.org ?? "acme";
    this.token = options.token ?? "fake-token-0123456789abcdef";
    this.pageSize = options.pageSize ?? 100;
    this.server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => this.handle(req) });
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  addProject(id: number, slug = `project-${id}`): void {
    this.projects.set(slug, { id, slug });
  }

  removeProject(slug: string): void {
    this.projects.delete(slug);
  }

  /** Adds a key, creating its project (slug project-<id>) if needed. */
  addKey(key: FakeKey): void {
    if (![...this.projects.values()].some((p) => p.id === key.projectId)) this.addProject(key.projectId);
    this.keys.push({ ...key });
  }

  setActive(publicKey: string, active: boolean): void {
    for (const k of this.keys) if (k.publicKey === publicKey) k.active = active;
  }

  /** The next `count` requests answer `status` (429 comes with Retry-After, default "1"). */
  failNext(count: number, status: number, retryAfter?: string): void {
    for (let i = 0; i < count; i++) this.failures.push({ status, retryAfter: status === 429 ? (retryAfter ?? "1") : retryAfter });
  }

  async stop(): Promise<void> {
    await this.server.stop(true);
  }

  private handle(req: Request): Response {
    const url = new URL(req.url);
    const authorization = req.headers.get("authorization");
    const recorded = { path: url.pathname, search: url.search, authorization };
    this.requests.push(recorded);
    this.onRequest?.(recorded);
    const failure = this.failures.shift();
    if (failure) {
      const headers: Record<string, string> = failure.retryAfter ? { "Retry-After": failure.retryAfter } : {};
      return Response.json({ detail: `injected ${failure.status}` }, { status: failure.status, headers });
    }
    if (authorization !== `Bearer ${this.token}`) {
      return Response.json({ detail: "Invalid token" }, { status: 401 });
    }
    const orgProjects = /^\/api\/0\/organizations\/([^/]+)\/projects\/$/.exec(url.pathname);
    if (orgProjects) {
      if (decodeURIComponent(orgProjects[1]!) !== this.org) return notFound();
      const list = [...this.projects.values()].map((p) => ({ id: String(p.id), slug: p.slug, name: p.slug }));
      return this.page(url, list);
    }
    const projectKeys = /^\/api\/0\/projects\/([^/]+)\/([^/]+)\/keys\/$/.exec(url.pathname);
    if (projectKeys) {
      const project = this.projects.get(decodeURIComponent(projectKeys[2]!));
      if (decodeURIComponent(projectKeys[1]!) !== this.org || !project) return notFound();
      const status = this.options.ignoreStatusFilter ? null : url.searchParams.get("status");
      const list = this.keys
        .filter((k) => k.projectId === project.id)
        .filter((k) => this.options.exposeRoles || k.store !== false)
        .filter((k) => status === null || (status === "active") === (k.active !== false))
        .reverse() // Sentry orders keys by -id.
        .map((k) => this.serializeKey(k));
      return this.page(url, list);
    }
    return notFound();
  }

  private serializeKey(k: FakeKey): Record<string, unknown> {
    const host = `127.0.0.1:${this.server.port}`;
    return {
      id: k.publicKey,
      name: "Default",
      label: "Default",
      public: k.publicKey,
      secret: k.secretKey,
      projectId: k.projectId,
      isActive: k.active !== false,
      rateLimit: null,
      dsn: { public: `http://${k.publicKey}@${host}/${k.projectId}`, secret: `http://${k.publicKey}:${k.secretKey}@${host}/${k.projectId}` },
      dateCreated: "2024-01-01T00:00:00.000000Z",
      ...(this.options.exposeRoles ? { roles: k.store === false ? ["api"] : ["store", "api"] } : {}),
      ...(k.useCase !== undefined ? { useCase: k.useCase } : {}),
    };
  }

  /** One page of `list` at the request's cursor, with Sentry's Link header. */
  private page(url: URL, list: unknown[]): Response {
    const offset = Number((url.searchParams.get("cursor") ?? "0:0:0").split(":")[1]) || 0;
    const items = list.slice(offset, offset + this.pageSize);
    const link = (cursor: string, rel: string, results: boolean) => {
      const target = new URL(url.pathname + url.search, this.options.linkOrigin ?? url.origin);
      target.searchParams.set("cursor", cursor);
      return `<${target}>; rel="${rel}"; results="${results}"; cursor="${cursor}"`;
    };
    const prev = link(`0:${Math.max(0, offset - this.pageSize)}:1`, "previous", offset > 0);
    const next = link(`0:${offset + this.pageSize}:0`, "next", offset + this.pageSize < list.length);
    return Response.json(items, { headers: { Link: `${prev}, ${next}` } });
  }
}

function notFound(): Response {
  return Response.json({ detail: "The requested resource does not exist" }, { status: 404 });
}

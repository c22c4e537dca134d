/**
 * Every ingest route in one table, as Relay keeps its router in one place. Trailing slashes are
 * optional (old SDKs differ); `/api/store/` is the legacy path whose project comes from the key.
 *
 * The listener recognizes these paths itself (`matchIngestUrl`, listener.ts) before anything else:
 * a few string compares on the URL, which the pipeline reads anyway. On a bare server doing the
 * same body work they cost a median 1.1 µs less per request than Bun.serve's router with a path
 * parameter (9 A/B rounds; on cyclops itself the difference is inside this VM's noise), and far
 * less than Hono's routing. Everything else goes to the Hono app (app.ts). The matcher reads this
 * table, so a route added here is served.
 */
import type { Route } from "./ingest.ts";

export interface IngestRoute {
  path: string;
  route: Route;
  /** True when the path has a `:projectId` segment. */
  hasProject: boolean;
}

export const INGEST_ROUTES: readonly IngestRoute[] = [
  { path: "/api/:projectId/store/", route: "store", hasProject: true },
  { path: "/api/:projectId/store", route: "store", hasProject: true },
  { path: "/api/store/", route: "store", hasProject: false },
  { path: "/api/store", route: "store", hasProject: false },
  { path: "/api/:projectId/envelope/", route: "envelope", hasProject: true },
  { path: "/api/:projectId/envelope", route: "envelope", hasProject: true },
];

export const HEALTHCHECK_PATHS = ["/healthcheck", "/healthcheck/", "/healthcheck.html"] as const;

export interface IngestMatch {
  route: Route;
  /** The `:projectId` segment as written (checked by the pipeline), null on the legacy path. */
  projectParam: string | null;
}

/** The table by path shape: the path after "/api/" without its trailing slash ("store", ":projectId/envelope"). */
const ROUTE_BY_SHAPE = new Map(INGEST_ROUTES.map((r) => [r.path.slice("/api/".length).replace(/\/$/, ""), r]));

/**
 * The ingest route an absolute request URL ("http://host:port/path?query", as Bun.serve gives it)
 * names, or null. A `:projectId` segment is any non-empty text without a slash, as a router's
 * parameter is; the pipeline answers 400 when it is not a number.
 */
export function matchIngestUrl(url: string): IngestMatch | null {
  const scheme = url.indexOf("://");
  const pathStart = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (pathStart < 0 || !url.startsWith("/api/", pathStart)) return null;
  let end = url.indexOf("?", pathStart);
  if (end < 0) end = url.length;
  if (url.charCodeAt(end - 1) === 0x2f /* / */) end--;
  const rest = url.slice(pathStart + "/api/".length, end);
  const slash = rest.indexOf("/");
  if (slash === 0) return null;
  const r = ROUTE_BY_SHAPE.get(slash < 0 ? rest : `:projectId${rest.slice(slash)}`);
  if (r === undefined) return null;
  return { route: r.route, projectParam: r.hasProject ? rest.slice(0, slash) : null };
}

/** `peer` is asked only without proxy headers: it costs a getpeername system call (~4 µs). */
export function clientIp(req: Request, peer: (req: Request) => string | null): string | null {
  // Like the original (tornado xheaders=True), trust the proxy in front of us.
  const xff = req.headers.get("x-forwarded-for");
  if (xff) return xff.split(",")[0]!.trim() || peer(req);
  return req.headers.get("x-real-ip") ?? peer(req);
}

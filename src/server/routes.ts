/**
 * Every ingest route in one table, as Relay keeps its router in one place. Trailing slashes are
 * optional (old SDKs differ); `/api/store/` is the legacy path whose project comes from the key.
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

/**
 * The Hono application: the operator-facing routes (/healthcheck, /count, /metrics, /status) and the 404
 * for everything unknown. The ingest routes never reach it: the listener recognizes them first
 * (routes.ts, listener.ts), because Hono's routing and context cost about a third of the hot
 * path's budget (docs/BENCHMARKS.md).
 */
import { Hono } from "hono";
import { countDocument, NO_LATENCY } from "../stats/count-document.ts";
import type { Deps } from "./deps.ts";
import { jsonError } from "./responses.ts";
import { HEALTHCHECK_PATHS } from "./routes.ts";

export function healthProblems(deps: Deps): string[] {
  const problems: string[] = [];
  const keys = deps.keys.status();
  if (!keys.ready) problems.push(`project keys not loaded yet${keys.lastError ? ` (${keys.lastError})` : ""}`);
  const q = deps.queue.problem();
  if (q) problems.push(`storage: ${q}`);
  const c = deps.counters.problem();
  if (c) problems.push(`flood counters: ${c}`);
  return problems;
}

export function createApp(deps: Deps): Hono {
  const app = new Hono();

  for (const path of HEALTHCHECK_PATHS) {
    app.get(path, (c) => {
      const problems = healthProblems(deps);
      if (problems.length) return c.text(`UNAVAILABLE: ${problems.join("; ")}`, 503);
      return c.text(deps.config.HEALTHCHECK_TEXT, 200);
    });
  }

  // /count and /metrics: open unless the operator set STATS_TOKEN.
  const token = deps.config.STATS_TOKEN;
  const guard = (req: Request): Response | null =>
    token === null || req.headers.get("authorization") === `Bearer ${token}` ? null : jsonError(401, "this endpoint needs Authorization: Bearer <STATS_TOKEN>");

  app.get("/metrics", async (c) => {
    const denied = guard(c.req.raw);
    if (denied) return denied;
    return c.body(await deps.metrics.text(), 200, { "Content-Type": deps.metrics.contentType() });
  });

  app.get("/count", (c) => {
    const denied = guard(c.req.raw);
    if (denied) return denied;
    const doc = countDocument(deps.stats, deps.queue.approxItems, deps.latency?.() ?? NO_LATENCY, deps.keys);
    // Spike protection's active episodes (limit, observed rate, dropped or would-drop), when it is on.
    return c.json(deps.spikeProtection ? { ...doc, spike: { dropped: deps.stats.dropped.spike, episodes: deps.spikeProtection.limiter.episodes() } } : doc);
  });

  deps.mountStatus?.(app);

  app.notFound(() => jsonError(404, "not found"));
  app.onError((err) => {
    deps.onInternalError?.(err);
    return jsonError(500, "internal error");
  });
  return app;
}

/**
 * GET /status: the page, or with ?fragment=1 its live part (what the page's script fetches), or
 * with ?format=json the snapshot. Guarded like /count by STATS_TOKEN; since a browser cannot
 * add an Authorization header to a page it opens, the token may also be given as ?token=.
 */
import type { Hono } from "hono";
import { liveFragment, statusPage } from "./page.ts";
import type { StatusSnapshot } from "./snapshot.ts";

export function allowed(req: Request, token: string | null): boolean {
  if (token === null) return true;
  if (req.headers.get("authorization") === `Bearer ${token}`) return true;
  return new URL(req.url).searchParams.get("token") === token;
}

export function mountStatus(app: Hono, token: string | null, snapshot: () => StatusSnapshot): void {
  app.get("/status", (c) => {
    if (!allowed(c.req.raw, token)) {
      return c.json({ detail: "this endpoint needs Authorization: Bearer <STATS_TOKEN> or ?token=<STATS_TOKEN>" }, 401);
    }
    const s = snapshot();
    const headers = { "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" };
    if (c.req.query("format") === "json") return c.json(s, 200, headers);
    const html = c.req.query("fragment") === "1" ? liveFragment(s) : statusPage(s);
    return c.html(html, 200, headers);
  });
}

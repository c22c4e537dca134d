/**
 * The status page as HTML, rendered on the server: readable without JavaScript (which only
 * refreshes it: every second the page fetches its live part, rendered by the same function, and
 * swaps it in). Every client-supplied text (error titles) and every configured text goes
 * through `esc`. Rows carry data-project and counters data-metric, for people's tools and tests.
 */
import type { MinuteCounts } from "./history.ts";
import type { ProjectStatus, StatusSnapshot } from "./snapshot.ts";

/** How often the page refreshes its live part. */
export const REFRESH_MS = 1000;
/** Most project rows on the page (the busiest; all are in ?format=json): a refresh stays under ~2 MB. */
export const MAX_ROWS = 1000;

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const esc = (s: string | number): string => String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const ms = (v: number | null) => (v === null ? "–" : `${v < 100 ? v.toFixed(1) : Math.round(v)} ms`);
const ago = (s: number | null) => (s === null ? "never" : s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`);
const pct = (n: number, max: number) => `${Math.round((100 * n) / max)} %`;

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const SERIES_COLORS: Array<[keyof MinuteCounts, string]> = [
  ["accepted", "#3b6fd4"],
  ["delivered", "#2e9e5b"],
  ["dropped", "#d43b3b"],
];

/**
 * The hour as up to three polylines, one point a minute, in whole pixels; a series that is zero
 * all hour is left out (a thousand quiet projects would otherwise cost a megabyte a refresh).
 */
export function sparkline(series: MinuteCounts[], width = 120, height = 24): string {
  if (series.length === 0) return "";
  let max = 1;
  for (const m of series) max = Math.max(max, m.accepted, m.delivered, m.dropped);
  const step = width / Math.max(1, series.length - 1);
  const lines = SERIES_COLORS.map(([k, color]) => {
    if (!series.some((m) => m[k] > 0)) return "";
    let points = "";
    for (let i = 0; i < series.length; i++) points += `${Math.round(i * step)},${Math.round(height - 1 - ((height - 2) * series[i]![k]) / max)} `;
    return `<polyline fill="none" stroke="${color}" stroke-width="1.2" points="${points.trimEnd()}"/>`;
  }).join("");
  return `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="last hour: accepted, delivered, dropped per minute">${lines}</svg>`;
}

function projectRow(p: ProjectStatus): string {
  const reasons = Object.entries(p.droppedBy)
    .map(([r, n]) => `${esc(r)} ${n}`)
    .join(", ");
  const limits = p.rateLimits.map((l) => `${esc(l.category)} ${l.retryAfter} s`).join(", ");
  return `<tr data-project="${p.id}"${p.episode ? ' class="episode"' : ""}><th scope="row">${p.id}</th><td data-metric="accepted">${p.accepted}</td><td data-metric="delivered">${p.delivered}</td><td data-metric="dropped">${p.dropped}</td><td>${reasons}</td><td>${sparkline(p.series)}</td><td>${limits}</td></tr>`;
}

/** The `max` busiest projects (episodes first), in id order. */
function busiest(projects: ProjectStatus[], max: number): ProjectStatus[] {
  if (projects.length <= max) return projects;
  const weight = (p: ProjectStatus) => (p.episode ? Infinity : p.accepted + p.delivered + p.dropped);
  return [...projects]
    .sort((a, b) => weight(b) - weight(a))
    .slice(0, max)
    .sort((a, b) => a.id - b.id);
}

function episodes(projects: ProjectStatus[]): string {
  const active = projects.filter((p) => p.episode);
  if (active.length === 0) return `<section><h2>Dropping now</h2><p>Nothing: no project is dropping at ALERT_MIN_DROPS_PER_MINUTE or more.</p></section>`;
  const items = active.map((p) => {
    const e = p.episode!;
    const top = e.top.map((t) => `<li><span class="title">${esc(t.title)}</span> × ${t.count}</li>`).join("");
    return `<article data-episode="${p.id}"><h3>Project ${p.id}: ${esc(e.reason)} (${esc(e.category)})</h3><p>since ${esc(e.startedAt)}, ${e.dropped} dropped</p>${top ? `<ol>${top}</ol>` : ""}</article>`;
  });
  return `<section><h2>Dropping now</h2>${items.join("")}</section>`;
}

function spikeEpisodes(s: StatusSnapshot): string {
  if (s.spike.length === 0) return "";
  const rows = s.spike.map(
    (e) =>
      `<tr data-spike="${e.projectId}"><th scope="row">${e.projectId}</th><td>${esc(e.category)}</td><td>${esc(e.mode)}</td><td>${Math.round(e.observedPerMinute)}</td><td>${Math.round(e.limitPerMinute)}</td><td>${e.dropped}</td><td>${esc(new Date(e.startedAt).toISOString())}</td></tr>`,
  );
  return `<section><h2>Spike protection</h2><table><thead><tr><th>Project</th><th>Category</th><th>Mode</th><th>Per minute</th><th>Limit</th><th>Dropped</th><th>Since</th></tr></thead><tbody>${rows.join("")}</tbody></table></section>`;
}

/** The part of the page that is refreshed live. */
export function liveFragment(s: StatusSnapshot): string {
  const q = s.queue;
  const u = s.upstream;
  const k = s.keys;
  const farm = s.farm ? `<dt>Farm</dt><dd>${s.farm.length} member${s.farm.length === 1 ? "" : "s"}: ${s.farm.map((m) => esc(m.id)).join(", ")}</dd>` : "";
  const facts = `<section><h2>Gateway</h2><dl>
<dt>Sentry</dt><dd>${esc(u.url)}: <strong data-upstream="${esc(u.state)}">${esc(u.state)}</strong>, latency p50 ${ms(u.p50)}, p99 ${ms(u.p99)}; ${u.inFlight} in flight (${esc(u.pacing)} pacing, at most ${u.maxConcurrency})</dd>
<dt>Queue</dt><dd>${esc(q.storage)}: <span data-metric="queue-items">${q.items}</span> reports (${pct(q.items, q.maxItems)} of ${q.maxItems}), ${bytes(q.bytes)} (${pct(q.bytes, q.maxBytes)}), oldest waiting ${q.oldestAgeSeconds === null ? "–" : `≤ ${ago(q.oldestAgeSeconds)}`}</dd>
<dt>Keys</dt><dd>${k.size} from ${k.sources.map(esc).join(", ") || "no source"}, loaded ${k.ageSeconds === null ? "never" : `${ago(k.ageSeconds)} ago`}${k.lastError ? `; last refresh failed: ${esc(k.lastError)}` : ""}</dd>
${farm}</dl></section>`;
  const shown = busiest(s.projects, MAX_ROWS);
  const hidden = s.projects.length - shown.length;
  const rows = shown.map(projectRow).join("\n") + (hidden > 0 ? `\n<tr><td colspan="7">${hidden} quieter projects not shown (all are in ?format=json).</td></tr>` : "");
  const table = `<section><h2>Projects, last hour</h2><table><thead><tr><th>Project</th><th>Accepted</th><th>Delivered</th><th>Dropped</th><th>Dropped by reason</th><th>Per minute <span class="key"><i style="color:#3b6fd4">accepted</i> <i style="color:#2e9e5b">delivered</i> <i style="color:#d43b3b">dropped</i></span></th><th>Rate limits</th></tr></thead><tbody>
${rows || '<tr><td colspan="7">No reports in the last hour.</td></tr>'}
</tbody></table></section>`;
  return `<p class="meta">${esc(s.instance)} at ${esc(s.generatedAt)}</p>${facts}${episodes(s.projects)}${spikeEpisodes(s)}${table}`;
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse}th,td{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:right;vertical-align:middle}
td:nth-child(5),td:nth-child(7){text-align:left}tr.episode{background:#fff1f0}dt{font-weight:600;float:left;width:5em}dd{margin:0 0 .3em 5.5em}
article{border-left:3px solid #d43b3b;padding-left:.8em;margin:.6em 0}.title{font-family:ui-monospace,monospace}.meta{color:#666}.key i{font-style:normal;font-size:.85em}`;

/** Refreshes #live from the same URL with ?fragment=1 (the token in the query, if any, goes along). */
const SCRIPT = `(()=>{const q=new URLSearchParams(location.search);q.set("fragment","1");const el=document.getElementById("live");
setInterval(async()=>{try{const r=await fetch(location.pathname+"?"+q,{cache:"no-store"});if(r.ok)el.innerHTML=await r.text()}catch{}},${REFRESH_MS})})();`;

export function statusPage(s: StatusSnapshot): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>cyclops status</title><noscript><meta http-equiv="refresh" content="5"></noscript><style>${STYLE}</style></head>
<body><h1>cyclops status</h1><main id="live">${liveFragment(s)}</main><script>${SCRIPT}</script></body></html>`;
}

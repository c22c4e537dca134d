/**
 * What the status page shows, gathered in one plain object: per project the last hour and its
 * active episode, then the queue, Sentry's latency and pacing, rate limits in force, the keys'
 * age and the farm's members. Nothing secret goes in: no keys, and Sentry's URL without
 * credentials.
 */
import { redact } from "../keys/redact.ts";
import type { History, ProjectHour } from "./history.ts";

/** Categories whose rate limits the page lists. */
const LIMITED_CATEGORIES = ["error", "transaction", "default"] as const;

/** A drop episode as the page shows it (src/alerts' Episode is one). */
export interface EpisodeView {
  project: number;
  reason: string;
  category: string;
  startedAt: number;
  dropped: number;
  titles: { top(): TitleCount[] };
}

export interface TitleCount {
  title: string;
  count: number;
}

export interface FarmMember {
  id: string;
  seenAt: number;
}

/** A spike-protection episode (src/spike's episode events carry these fields). */
export interface SpikeEpisodeView {
  projectId: number;
  category: string;
  mode: string;
  startedAt: number;
  limitPerMinute: number;
  observedPerMinute: number;
  dropped: number;
}

export interface StatusSources {
  instance: string;
  history: History;
  episodes: () => EpisodeView[];
  queue: () => { items: number; bytes: number; maxItems: number; maxBytes: number; oldestAgeSeconds: number | null; storage: string };
  upstream: () => { url: string; state: string; p50: number | null; p99: number | null; inFlight: number; pacing: string; maxConcurrency: number };
  rateLimit: (project: number, category: string) => { retryAfter: number } | null;
  keys: () => { size: number; ageSeconds: number | null; lastError: string | null; sources: string[] };
  farm: () => FarmMember[] | null;
  /** Spike protection's active episodes, when it runs. */
  spike?: () => SpikeEpisodeView[];
  now?: () => number;
}

export interface ProjectStatus extends ProjectHour {
  episode: { reason: string; category: string; startedAt: string; dropped: number; top: TitleCount[] } | null;
  rateLimits: Array<{ category: string; retryAfter: number }>;
}

export interface StatusSnapshot {
  generatedAt: string;
  instance: string;
  queue: ReturnType<StatusSources["queue"]>;
  upstream: ReturnType<StatusSources["upstream"]>;
  keys: ReturnType<StatusSources["keys"]>;
  farm: FarmMember[] | null;
  spike: SpikeEpisodeView[];
  projects: ProjectStatus[];
}

export function statusSnapshot(src: StatusSources): StatusSnapshot {
  const now = (src.now ?? Date.now)();
  const episodes = new Map<number, EpisodeView>();
  for (const e of src.episodes()) if (!episodes.has(e.project)) episodes.set(e.project, e);
  const hours = src.history.hour();
  // A project in an episode is shown even if its drops are not in the hour's history.
  const known = new Set(hours.map((h) => h.id));
  for (const id of episodes.keys()) if (!known.has(id)) hours.push({ id, accepted: 0, delivered: 0, dropped: 0, droppedBy: {}, series: [] });
  const projects = hours.map((h): ProjectStatus => {
    const e = episodes.get(h.id);
    const rateLimits: ProjectStatus["rateLimits"] = [];
    for (const category of LIMITED_CATEGORIES) {
      const limit = src.rateLimit(h.id, category);
      if (limit) rateLimits.push({ category, retryAfter: limit.retryAfter });
    }
    return {
      ...h,
      episode: e ? { reason: e.reason, category: e.category, startedAt: new Date(e.startedAt).toISOString(), dropped: e.dropped, top: e.titles.top() } : null,
      rateLimits,
    };
  });
  const upstream = src.upstream();
  return {
    generatedAt: new Date(now).toISOString(),
    instance: src.instance,
    queue: src.queue(),
    upstream: { ...upstream, url: redact(upstream.url, []) },
    keys: src.keys(),
    farm: src.farm(),
    spike: src.spike?.() ?? [],
    projects,
  };
}

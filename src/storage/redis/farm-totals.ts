/**
 * The farm's queue totals as this instance last heard them, per project. Every script touches one
 * project (one hash slot on a cluster) and answers with that project's exact totals; the farm's
 * are their sum. A push's room is the bound less the other projects' totals known here: exact
 * for one instance, and behind by what other instances queued since this one last heard of their
 * projects (each take and stats refreshes every project), which docs/REDIS.md bounds.
 */
export class FarmTotals {
  private readonly byProject = new Map<number, { items: number; bytes: number }>();
  items = 0;
  bytes = 0;

  set(projectId: number, items: number, bytes: number): void {
    const known = this.byProject.get(projectId);
    if (known) {
      this.items += items - known.items;
      this.bytes += bytes - known.bytes;
      known.items = items;
      known.bytes = bytes;
    } else {
      this.byProject.set(projectId, { items, bytes });
      this.items += items;
      this.bytes += bytes;
    }
  }

  /** What the bounds leave for `projectId`: the limits less every other project's totals. */
  room(projectId: number, maxItems: number, maxBytes: number): [items: number, bytes: number] {
    const own = this.byProject.get(projectId);
    return [maxItems - (this.items - (own?.items ?? 0)), maxBytes - (this.bytes - (own?.bytes ?? 0))];
  }
}

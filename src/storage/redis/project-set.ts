/**
 * The farm's set of projects (keys.ts projectsKey): where `take` looks for work, since each
 * project's queue is its own slot. A project joins before the first push from an instance, so the
 * set always covers every project with items; it never shrinks (one member per project ever seen).
 */
import { projectsKey } from "../../redis/keys.ts";
import type { RedisClient } from "../../redis/scripts.ts";

export class ProjectSet {
  /** Projects this instance has added already. */
  private readonly added = new Set<number>();
  private readonly key: string;

  constructor(
    private readonly client: RedisClient,
    prefix: string,
  ) {
    this.key = projectsKey(prefix);
  }

  /** Adds the projects not added from here yet (one SADD); resolves once Redis has them. */
  async add(projectIds: number[]): Promise<void> {
    const fresh = projectIds.filter((p) => !this.added.has(p));
    if (fresh.length === 0) return;
    await this.client.sadd(this.key, ...fresh);
    for (const p of fresh) this.added.add(p);
  }

  async members(): Promise<number[]> {
    return (await this.client.smembers(this.key)).map(Number);
  }
}

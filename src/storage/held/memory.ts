/** Held reports in memory (STORAGE=memory): lost with the process, as the memory queue's are. */
import type { HeldReport, HeldStore, StoredHeldReport } from "./store.ts";

export class MemoryHeldStore implements HeldStore {
  readonly kind = "memory" as const;
  private readonly held = new Map<string, StoredHeldReport>();
  private nextId = 1;
  private heldBytes = 0;

  get count(): number {
    return this.held.size;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  hold(report: HeldReport): void {
    const id = String(this.nextId++);
    this.held.set(id, { ...report, id });
    this.heldBytes += report.body.byteLength;
  }

  async list(max: number): Promise<StoredHeldReport[]> {
    const out: StoredHeldReport[] = [];
    for (const r of this.held.values()) {
      if (out.length >= max) break;
      out.push(r);
    }
    return out;
  }

  async remove(reports: StoredHeldReport[]): Promise<void> {
    for (const { id } of reports) {
      const r = this.held.get(id);
      if (r === undefined) continue;
      this.held.delete(id);
      this.heldBytes -= r.body.byteLength;
    }
  }
}

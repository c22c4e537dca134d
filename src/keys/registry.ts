/**
 * The project keys the request path checks against, held in memory. `refresh` loads every
 * source and swaps the whole map in one assignment, so a request never sees a half-loaded set;
 * a failed refresh keeps the last good set and records why. Until the first successful load the
 * registry is not ready and /healthcheck answers 503, so a load balancer waits, while reports that
 * arrive anyway are held (`loaded`).
 */
import type { KeySource, ProjectKey } from "./key-source.ts";

export interface RegistryStatus {
  ready: boolean;
  size: number;
  /** Milliseconds since the epoch of the last successful load, null before the first. */
  loadedAt: number | null;
  lastError: string | null;
  failures: number;
}

export class KeyRegistry {
  private byPublicKey = new Map<string, ProjectKey>();
  /** One key per project, for what cyclops itself sends Sentry on a project's behalf (client reports). */
  private byProject = new Map<number, ProjectKey>();
  private loadedAt: number | null = null;
  private lastError: string | null = null;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private inFlight: Promise<boolean> | null = null;
  private markLoaded!: () => void;
  /**
   * Resolves at the first successful load, the "loaded yet" signal: admission holds well-formed
   * reports until then (src/admission/held.ts) and checks them when it fires.
   */
  readonly loaded: Promise<void> = new Promise((resolve) => {
    this.markLoaded = resolve;
  });

  constructor(
    private readonly sources: KeySource[],
    private readonly onRefreshError: (source: string, message: string) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  lookup(publicKey: string): ProjectKey | undefined {
    return this.byPublicKey.get(publicKey);
  }

  /** A key of the project (the first loaded), or undefined. */
  keyForProject(projectId: number): ProjectKey | undefined {
    return this.byProject.get(projectId);
  }

  get ready(): boolean {
    return this.loadedAt !== null;
  }

  status(): RegistryStatus {
    return {
      ready: this.ready,
      size: this.byPublicKey.size,
      loadedAt: this.loadedAt,
      lastError: this.lastError,
      failures: this.failures,
    };
  }

  get sourceNames(): string[] {
    return this.sources.map((s) => s.name);
  }

  /**
   * Loads all sources (side by side); on success swaps the set in and returns true. Never throws.
   * A refresh asked for while one runs joins it, so two loads never race to swap last.
   */
  refresh(): Promise<boolean> {
    this.inFlight ??= this.loadAll().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async loadAll(): Promise<boolean> {
    const results = await Promise.allSettled(this.sources.map(async (s) => s.load()));
    const next = new Map<string, ProjectKey>();
    const errors: string[] = [];
    results.forEach((result, i) => {
      const name = this.sources[i]!.name;
      if (result.status === "rejected") {
        const message = result.reason instanceof Error ? result.reason.message : String(result.reason);
        errors.push(`${name}: ${message}`);
        try {
          this.onRefreshError(name, message);
        } catch {
          // A failing logger must not turn a failed load into a crash.
        }
        return;
      }
      // Later sources win on a duplicate public key: the database overrides PROJECT_KEYS.
      for (const k of result.value) next.set(k.publicKey, k);
    });
    if (errors.length > 0) {
      this.failures++;
      this.lastError = errors.join("; ");
      return false;
    }
    const byProject = new Map<number, ProjectKey>();
    for (const k of next.values()) if (!byProject.has(k.projectId)) byProject.set(k.projectId, k);
    this.byPublicKey = next;
    this.byProject = byProject;
    this.loadedAt = this.now();
    this.lastError = null;
    this.markLoaded();
    return true;
  }

  /**
   * Refreshes every `periodSeconds`; before the first success, retries with exponential backoff
   * (1 s doubling, capped at the period) so a gateway started before its database comes up soon.
   */
  start(periodSeconds: number): Promise<boolean> {
    this.stopped = false;
    let backoff = 1000;
    const loop = async (): Promise<boolean> => {
      const ok = await this.refresh();
      if (this.stopped) return ok;
      let delay = periodSeconds * 1000;
      if (!ok && !this.ready) {
        delay = Math.min(backoff, delay);
        backoff *= 2;
      }
      this.timer = setTimeout(loop, delay);
      return ok;
    };
    return loop();
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.all(this.sources.map((s) => s.close().catch(() => {})));
  }
}

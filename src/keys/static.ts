/** Keys written in the config file (PROJECT_KEYS): a list of [project_id, public_key, secret_key]. */
import type { KeySource, ProjectKey } from "./key-source.ts";

export class StaticKeySource implements KeySource {
  readonly name = "static";
  private readonly keys: ProjectKey[];
  constructor(entries: ReadonlyArray<readonly [number, string, string | null]>) {
    this.keys = entries.map(([projectId, publicKey, secretKey]) => ({ projectId, publicKey, secretKey }));
  }
  async load(): Promise<ProjectKey[]> {
    return this.keys.map((k) => ({ ...k }));
  }
  async close(): Promise<void> {}
}

/**
 * What every KeySource must do (src/keys/key-source.ts): return exactly the active keys allowed
 * to store events, with their project id and secret, see keys added or disabled since the last
 * load, and close cleanly. Each implementation's test file calls `runKeySourceContract` with a
 * factory that seeds a backend with the given keys.
 *
 * Sources differ in what they can express: a 2013 table has no status or roles, so its
 * "disabled" and "non-store" keys are ordinary keys and must load; static keys never change.
 * The fixture says which of those notions it has, and the expectations follow.
 */
import { expect, test } from "bun:test";
import type { KeySource, ProjectKey } from "../../src/keys/key-source.ts";

export interface ContractKey {
  projectId: number;
  publicKey: string;
  secretKey: string | null;
  active: boolean;
  store: boolean;
}

export interface KeySourceFixture {
  source: KeySource;
  /** The backend knows disabled keys (else every key is active). */
  hasStatus: boolean;
  /** The backend knows the store role (else every key may store). */
  hasRoles: boolean;
  /** Absent for sources whose keys cannot change (static). */
  add?: (key: ContractKey) => Promise<void>;
  /** Present only when hasStatus. */
  disable?: (publicKey: string) => Promise<void>;
  cleanup(): Promise<void>;
}

export const hexKey = (): string => crypto.randomUUID().replaceAll("-", "");

export function contractSeed(): ContractKey[] {
  return [
    { projectId: 1, publicKey: hexKey(), secretKey: hexKey(), active: true, store: true },
    { projectId: 1, publicKey: hexKey(), secretKey: hexKey(), active: true, store: true },
    { projectId: 2, publicKey: hexKey(), secretKey: hexKey(), active: true, store: true },
    { projectId: 2, publicKey: hexKey(), secretKey: hexKey(), active: false, store: true },
    { projectId: 3, publicKey: hexKey(), secretKey: hexKey(), active: true, store: false },
    { projectId: 4, publicKey: hexKey(), secretKey: hexKey(), active: false, store: false },
  ];
}

function expected(keys: ContractKey[], f: KeySourceFixture): ProjectKey[] {
  return sorted(keys.filter((k) => (!f.hasStatus || k.active) && (!f.hasRoles || k.store)).map(({ projectId, publicKey, secretKey }) => ({ projectId, publicKey, secretKey })));
}

function sorted(keys: ProjectKey[]): ProjectKey[] {
  return [...keys].sort((a, b) => a.publicKey.localeCompare(b.publicKey));
}

export function runKeySourceContract(name: string, make: (seed: ContractKey[]) => Promise<KeySourceFixture>): void {
  const withFixture = async (seed: ContractKey[], body: (f: KeySourceFixture) => Promise<void>) => {
    const f = await make(seed);
    try {
      await body(f);
    } finally {
      await f.source.close();
      await f.cleanup();
    }
  };

  test(`${name}: load returns exactly the active store keys, with project id and secret`, async () => {
    const seed = contractSeed();
    await withFixture(seed, async (f) => {
      const keys = await f.source.load();
      expect(sorted(keys)).toEqual(expected(seed, f));
      // The seed holds keys of every kind, so some are always expected.
      expect(keys.length).toBeGreaterThanOrEqual(3);
    });
  });

  test(`${name}: a key added later appears at the next load, a disabled one disappears`, async () => {
    const seed = contractSeed();
    await withFixture(seed, async (f) => {
      const first = await f.source.load();
      const later: ContractKey = { projectId: 5, publicKey: hexKey(), secretKey: hexKey(), active: true, store: true };
      if (!f.add) {
        // Immutable source: the next load is the same set.
        expect(sorted(await f.source.load())).toEqual(sorted(first));
        return;
      }
      await f.add(later);
      const current = [...seed, later];
      const victim = seed[0]!;
      if (f.disable) {
        await f.disable(victim.publicKey);
        victim.active = false;
      }
      const second = await f.source.load();
      expect(sorted(second)).toEqual(expected(current, f));
      expect(second.some((k) => k.publicKey === later.publicKey)).toBe(true);
      if (f.disable) expect(second.some((k) => k.publicKey === victim.publicKey)).toBe(false);
    });
  });

  test(`${name}: each load returns fresh objects`, async () => {
    const seed = contractSeed();
    await withFixture(seed, async (f) => {
      const first = await f.source.load();
      first[0]!.projectId = 999_999;
      first.pop();
      expect(sorted(await f.source.load())).toEqual(expected(seed, f));
    });
  });

  test(`${name}: close resolves, twice`, async () => {
    await withFixture(contractSeed(), async (f) => {
      await f.source.load();
      await f.source.close();
      await f.source.close();
    });
  });
}

/** The static source (PROJECT_KEYS) under the KeySource contract: every configured key, never changing. */
import { describe } from "bun:test";
import { StaticKeySource } from "../../src/keys/static.ts";
import { runKeySourceContract } from "../contracts/key-source.contract.ts";

describe("static key source contract", () => {
  runKeySourceContract("static", async (seed) => ({
    source: new StaticKeySource(seed.map((k) => [k.projectId, k.publicKey, k.secretKey] as const)),
    // PROJECT_KEYS has no notion of disabled or non-store keys: what is written is accepted.
    hasStatus: false,
    hasRoles: false,
    cleanup: async () => {},
  }));
});

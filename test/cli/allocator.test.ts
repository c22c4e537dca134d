import { describe, expect, test } from "bun:test";
import { allocatorEnvironment, PURGE_DELAY } from "../../src/cli/allocator.ts";
import { spawnGateway } from "../helpers/gateway.ts";
import { readFileSync } from "node:fs";

describe("allocator restart (serve keeps freed memory)", () => {
  test("adds MIMALLOC_PURGE_DELAY and keeps the rest of the environment", () => {
    const env = allocatorEnvironment({ PATH: "/bin", CYCLOPS_PORT: "1234", EMPTY: undefined }, "linux");
    expect(env).toEqual({ PATH: "/bin", CYCLOPS_PORT: "1234", MIMALLOC_PURGE_DELAY: PURGE_DELAY });
  });

  test("leaves an operator's own setting, an opt-out, our own restart and other systems alone", () => {
    expect(allocatorEnvironment({ MIMALLOC_PURGE_DELAY: "10" }, "linux")).toBeNull();
    expect(allocatorEnvironment({ CYCLOPS_KEEP_FREED_MEMORY: "0" }, "linux")).toBeNull();
    expect(allocatorEnvironment({}, "darwin")).toBeNull();
  });
});

describe("serve restarts itself with the allocator setting (same pid)", () => {
  const environOf = (pid: number) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");

  test("the spawned pid is the gateway, and it runs with MIMALLOC_PURGE_DELAY", async () => {
    const g = await spawnGateway(["serve", "-p", "0", "-b", "127.0.0.1"]);
    try {
      expect((await fetch(`${g.url}/healthcheck`)).status).toBe(200);
      expect(environOf(g.proc!.pid)).toContain(`MIMALLOC_PURGE_DELAY=${PURGE_DELAY}`);
    } finally {
      await g.stop();
    }
    expect(g.proc!.exitCode).toBe(0);
  });

  test("CYCLOPS_KEEP_FREED_MEMORY=0 starts without it", async () => {
    const g = await spawnGateway(["serve", "-p", "0", "-b", "127.0.0.1"], { CYCLOPS_KEEP_FREED_MEMORY: "0" });
    try {
      expect((await fetch(`${g.url}/healthcheck`)).status).toBe(200);
      expect(environOf(g.proc!.pid).some((v) => v.startsWith("MIMALLOC_PURGE_DELAY="))).toBe(false);
    } finally {
      await g.stop();
    }
  });
});

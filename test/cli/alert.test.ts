/**
 * `cyclops alert test -c conf.json` as a process: against a receiving sink and a failing one,
 * the receiver gets one test message in its format, and the exit code is 1 naming the failing
 * sink (by name or host, never by URL).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, tempDir } from "../helpers/gateway.ts";

describe("cyclops alert test", () => {
  const received: unknown[] = [];
  const receiving = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: async (req) => {
      received.push(await req.json());
      return new Response("ok");
    },
  });
  const failing = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("broken", { status: 500 }) });
  afterAll(() => {
    receiving.stop(true);
    failing.stop(true);
  });

  test("one message received, exit 1 naming the failing sink", async () => {
    const dir = tempDir();
    const conf = join(dir, "conf.json");
    writeFileSync(
      conf,
      JSON.stringify({
        ALERTS: [
          { url: `http://127.0.0.1:${receiving.port}/services/T000/B000/secretpath`, format: "slack", name: "ops-slack" },
          { url: `http://127.0.0.1:${failing.port}/hook/secretpath`, format: "json" },
        ],
      }),
    );
    const r = await runCli(["alert", "test", "-c", conf]);
    expect(r.code).toBe(1);
    expect(received).toEqual([{ text: expect.stringContaining("alert test for sink ops-slack") }]);
    expect(r.stdout).toContain("ok      ops-slack (slack): HTTP 200");
    expect(r.stdout).toContain(`FAILED  127.0.0.1:${failing.port} (json): answered 500`);
    expect(r.stderr).toContain(`1 of 2 sinks did not take the message: 127.0.0.1:${failing.port}`);
    expect(r.stdout + r.stderr).not.toContain("secretpath");
  });

  test("all sinks take it: exit 0; no sink configured: exit 2", async () => {
    const dir = tempDir();
    const ok = join(dir, "ok.json");
    writeFileSync(ok, JSON.stringify({ ALERTS: [{ url: `http://127.0.0.1:${receiving.port}/x` }] }));
    const r = await runCli(["alert", "test", "-c", ok]);
    expect(r.code).toBe(0);
    const none = join(dir, "none.json");
    writeFileSync(none, "{}");
    const empty = await runCli(["alert", "test", "-c", none]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("ALERTS is empty");
  });
});

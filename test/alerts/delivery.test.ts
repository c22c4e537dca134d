import { afterAll, describe, expect, test } from "bun:test";
import { AlertDelivery, toSinks } from "../../src/alerts/delivery.ts";
import type { AlertMessage } from "../../src/alerts/messages.ts";
import { until } from "../helpers/wait.ts";

const message: AlertMessage = { event: "sentry_unreachable", since: "2026-01-01T00:00:00.000Z", cause: "ECONNREFUSED", instance: "t" };

/** A webhook receiver whose answer to the n-th request (0-based) is `answer(n)`; null hangs. */
function receiver(answer: (n: number) => Response | null) {
  const bodies: unknown[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      bodies.push(await req.json());
      const r = answer(bodies.length - 1);
      return r ?? new Promise<Response>(() => {});
    },
  });
  return { url: `http://127.0.0.1:${server.port}/hook/secret-part`, bodies, server };
}

const servers: Array<{ server: { stop(force?: boolean): unknown } }> = [];
afterAll(() => {
  for (const s of servers) s.server.stop(true);
});

describe("AlertDelivery", () => {
  test("a receiving sink gets one message; 500s are retried and finally lost; 429's Retry-After is honoured; a hanging sink times out; send never waits", async () => {
    const ok = receiver(() => new Response("ok"));
    const failing = receiver(() => new Response("no", { status: 500 }));
    const limited = receiver((n) => (n === 0 ? new Response("slow down", { status: 429, headers: { "Retry-After": "0" } }) : new Response("ok")));
    const hanging = receiver(() => null);
    servers.push(ok, failing, limited, hanging);
    const delivery = new AlertDelivery(
      toSinks([
        { url: ok.url, format: "json", name: "ok" },
        { url: failing.url, format: "slack", name: "failing" },
        { url: limited.url, format: "json", name: "limited" },
        { url: hanging.url, format: "json", name: "hanging" },
      ]),
      { attempts: 3, baseMs: 1, maxMs: 5, timeoutMs: 200 },
    );
    delivery.send(message);
    // Nothing was awaited: no sink has answered yet.
    expect(delivery.counts.ok!.sent).toBe(0);
    await until("all deliveries settled", () => Object.values(delivery.counts).every((c) => c.sent + c.lost === 1), 10_000);
    expect(delivery.counts).toEqual({
      ok: { sent: 1, retried: 0, lost: 0 },
      failing: { sent: 0, retried: 2, lost: 1 },
      limited: { sent: 1, retried: 1, lost: 0 },
      hanging: { sent: 0, retried: 2, lost: 1 },
    });
    expect(ok.bodies).toEqual([expect.objectContaining({ event: "sentry_unreachable", cause: "ECONNREFUSED" })]);
    expect(failing.bodies).toHaveLength(3);
    expect(failing.bodies[0]).toEqual({ text: expect.stringContaining("cannot reach Sentry") });
  });

  test("a sink that refuses connections is counted lost; pending deliveries are bounded", async () => {
    const lost: string[] = [];
    const delivery = new AlertDelivery(toSinks([{ url: "http://127.0.0.1:1/x", format: "json" }]), {
      attempts: 2,
      baseMs: 1,
      maxMs: 2,
      maxPending: 3,
      onLost: (s, _m, e) => lost.push(`${s.label}: ${e}`),
    });
    for (let i = 0; i < 5; i++) delivery.send(message);
    expect(delivery.counts["127.0.0.1:1"]!.lost).toBe(2);
    await until("refused deliveries lost", () => delivery.counts["127.0.0.1:1"]!.lost === 5);
    expect(lost[0]).toBe("127.0.0.1:1: too many alerts pending");
    expect(lost.at(-1)).toMatch(/^127\.0\.0\.1:1: unreachable/);
  });
});

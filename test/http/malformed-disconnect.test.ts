/**
 * A client that disconnects mid-body, through the process (the binary when CYCLOPS_BINARY names
 * it): one debug line with the reason, no error line, nothing but JSON on the log (the plain
 * "listening" line that scripts wait for aside), and the gateway goes on answering.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import * as net from "node:net";
import { join } from "node:path";
import { spawnGateway, tempDir, type TestGateway } from "../helpers/gateway.ts";
import { until } from "../helpers/wait.ts";

const KEY = "a".repeat(32);
const LISTENING = /^cyclops listening on \S+ \(port \d+\)$/;
let g: TestGateway;

beforeAll(async () => {
  const file = join(tempDir(), "cyclops.json");
  writeFileSync(file, JSON.stringify({ BIND: "127.0.0.1", PORT: 0, PROJECT_KEYS: [[1, KEY, null]], SENTRY_BASE_URL: "http://127.0.0.1:1", SHUTDOWN_TIMEOUT: 0.2 }));
  g = await spawnGateway(["serve", "-c", file, "-vvv"]);
});
afterAll(() => g.stop());

/** Sends headers promising 100 KB and 3 KB of body, then closes the socket. */
function halfSend(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(`POST /api/1/store/ HTTP/1.1\r\nHost: x\r\nX-Sentry-Auth: Sentry sentry_key=${KEY}\r\nContent-Length: 100000\r\n\r\n{"message":"${"x".repeat(3000)}`);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 100);
    });
    socket.on("error", reject);
  });
}

test("a client that disconnects mid-body is one debug line, and the log stays JSON", async () => {
  for (let i = 0; i < 3; i++) await halfSend(g.port);
  await until("three debug lines", () => g.stderr().split("request body not received").length - 1 >= 3);
  const res = await fetch(`${g.url}/api/1/store/`, { method: "POST", headers: { "X-Sentry-Auth": `Sentry sentry_key=${KEY}` }, body: '{"message":"after"}' });
  expect(res.status).toBe(200);

  const lines = g
    .stderr()
    .split("\n")
    .filter((l) => l !== "" && !LISTENING.test(l));
  const parsed = lines.map((l) => {
    try {
      return JSON.parse(l) as { level: string; msg: string; reason?: string };
    } catch {
      return { level: "not JSON", msg: l.slice(0, 200) };
    }
  });
  expect(parsed.filter((l) => l.level === "not JSON" || l.level === "error")).toEqual([]);
  const unread = parsed.filter((l) => l.msg === "request body not received");
  expect(unread.length).toBe(3);
  for (const line of unread) {
    expect(line.level).toBe("debug");
    expect(typeof line.reason).toBe("string");
    expect(JSON.stringify(line).length).toBeLessThan(300);
  }
});

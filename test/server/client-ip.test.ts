import { describe, expect, test } from "bun:test";
import { clientIp } from "../../src/server/routes.ts";

describe("clientIp: proxy headers first, the socket's peer only without them", () => {
  const asked: Request[] = [];
  const peer = (req: Request) => (asked.push(req), "192.0.2.1");
  const req = (headers: Record<string, string>) => new Request("http://x/api/1/store/", { headers });

  test("first X-Forwarded-For address, without asking the peer", () => {
    asked.length = 0;
    expect(clientIp(req({ "X-Forwarded-For": " 203.0.113.7 , 10.0.0.1" }), peer)).toBe("203.0.113.7");
    expect(clientIp(req({ "X-Real-IP": "198.51.100.9" }), peer)).toBe("198.51.100.9");
    expect(asked).toHaveLength(0);
  });

  test("the peer when no proxy header names the client", () => {
    asked.length = 0;
    const r = req({});
    expect(clientIp(r, peer)).toBe("192.0.2.1");
    expect(clientIp(req({ "X-Forwarded-For": " , 10.0.0.1" }), peer)).toBe("192.0.2.1");
    expect(asked[0]).toBe(r);
    expect(asked).toHaveLength(2);
  });
});

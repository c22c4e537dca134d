import { describe, expect, test } from "bun:test";
import { alertBody, slackEscape, type AlertMessage } from "../../src/alerts/messages.ts";
import { sinkWants } from "../../src/alerts/delivery.ts";

const start: AlertMessage = {
  event: "start",
  project: 7,
  reason: "flood",
  category: "error",
  dropped: 290,
  rate_per_minute: 290,
  top: [{ title: "<!channel> <http://evil|click> & *bold* `code`", count: 290 }],
  started_at: "2026-01-01T00:00:00.000Z",
  instance: "a",
};

describe("alert bodies", () => {
  test("JSON carries the facts", () => {
    const body = JSON.parse(alertBody(start, "json"));
    expect(body).toMatchObject(start);
    expect(body.text).toContain("project 7");
  });

  test("Slack text escapes client text, so markup and mentions stay text", () => {
    const { text } = JSON.parse(alertBody(start, "slack"));
    expect(text).toContain("project 7");
    expect(text).toContain("&lt;!channel&gt; &lt;http://evil|click&gt; &amp; *bold* ˋcodeˋ");
    expect(text).not.toContain("<!channel>");
    expect(text).not.toContain("<http://evil");
    expect(slackEscape("a<b>&c")).toBe("a&lt;b&gt;&amp;c");
  });

  test("sink filters by project and reason; outage messages go to every sink", () => {
    const sink = { url: "http://x/", format: "json" as const, projects: [1], reasons: ["flood"] };
    expect(sinkWants(sink, start)).toBe(false);
    expect(sinkWants(sink, { ...start, project: 1 } as AlertMessage)).toBe(true);
    expect(sinkWants(sink, { ...start, project: 1, reason: "sampled" } as AlertMessage)).toBe(false);
    expect(sinkWants(sink, { event: "sentry_unreachable", since: "", cause: null, instance: "a" })).toBe(true);
  });
});

describe("ALERTS in the config", () => {
  test("sinks are checked: http(s) URL, known format, no unknown field; format defaults to json", async () => {
    const { validateOption } = await import("../../src/config/load.ts");
    expect(validateOption("ALERTS", [{ url: "https://hooks.slack.com/services/T/B/X", format: "slack", projects: [1], reasons: ["flood"] }], "test")).toEqual([
      { url: "https://hooks.slack.com/services/T/B/X", format: "slack", projects: [1], reasons: ["flood"] },
    ]);
    expect(validateOption("ALERTS", [{ url: "http://x.example/" }], "test")).toEqual([{ url: "http://x.example/", format: "json" }]);
    expect(() => validateOption("ALERTS", [{ url: "ftp://x.example/" }], "test")).toThrow("ALERTS at 0.url: must be an http or https URL");
    expect(() => validateOption("ALERTS", [{ url: "http://x.example/", format: "teams" }], "test")).toThrow("ALERTS at 0.format");
    expect(() => validateOption("ALERTS", [{ url: "http://x.example/", chanel: "#ops" }], "test")).toThrow("ALERTS at 0");
  });
});

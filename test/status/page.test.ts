import { describe, expect, test } from "bun:test";
import { History, MINUTES } from "../../src/status/history.ts";
import { esc, liveFragment, sparkline, statusPage } from "../../src/status/page.ts";
import { statusSnapshot, type StatusSources } from "../../src/status/snapshot.ts";
import { EpisodeDetector } from "../../src/alerts/detector.ts";

const T0 = 1_700_000_040_000;

function sources(history: History, detector: EpisodeDetector, now: () => number): StatusSources {
  return {
    instance: "host/1",
    history,
    now,
    episodes: () => detector.active(),
    queue: () => ({ storage: "memory", items: 5, bytes: 2048, maxItems: 10, maxBytes: 1 << 20, oldestAgeSeconds: 3 }),
    upstream: () => ({ url: "https://user:hunter2@sentry.example.com", state: "up", p50: 12.5, p99: 250, inFlight: 2, pacing: "adaptive", maxConcurrency: 32 }),
    rateLimit: (p, c) => (p === 2 && c === "error" ? { retryAfter: 30 } : null),
    keys: () => ({ size: 3, ageSeconds: 42, lastError: null, sources: ["static"] }),
    farm: () => [
      { id: "a/1", seenAt: T0 },
      { id: "b/2", seenAt: T0 },
    ],
  };
}

describe("History", () => {
  test("accepted and delivered from Stats' counters, drops by reason, per minute over the hour", () => {
    let now = T0;
    const h = new History(() => now);
    const per = new Map([[1, { processed: 3, delivered: 1 }]]);
    h.sample(per);
    h.drop(1, "flood", 4);
    h.drop(2, "sampled");
    now += 60_000;
    per.set(1, { processed: 10, delivered: 9 });
    h.sample(per);
    const [p1, p2] = h.hour();
    expect(p1).toMatchObject({ id: 1, accepted: 10, delivered: 9, dropped: 4, droppedBy: { flood: 4 } });
    expect(p1!.series).toHaveLength(MINUTES);
    expect(p1!.series.slice(-2)).toEqual([
      { accepted: 3, delivered: 1, dropped: 4 },
      { accepted: 7, delivered: 8, dropped: 0 },
    ]);
    expect(p2).toMatchObject({ id: 2, dropped: 1, droppedBy: { sampled: 1 } });
    // An hour later, the old minutes are gone.
    now += 60 * 60_000;
    expect(h.hour()).toEqual([]);
  });

  test("a sample of counters that did not move adds nothing, and the next move is counted in full", () => {
    let now = T0;
    const h = new History(() => now);
    const per = new Map([
      [1, { processed: 3, delivered: 1 }],
      [2, { processed: 0, delivered: 0 }],
    ]);
    h.sample(per);
    h.sample(per);
    now += 60_000;
    h.sample(per);
    per.set(1, { processed: 5, delivered: 5 });
    h.sample(per);
    expect(h.hour()).toHaveLength(1);
    expect(h.hour()[0]!.series.slice(-2)).toEqual([
      { accepted: 3, delivered: 1, dropped: 0 },
      { accepted: 2, delivered: 4, dropped: 0 },
    ]);
  });
});

describe("the page", () => {
  const now = () => T0;
  const history = new History(now);
  history.sample(
    new Map([
      [1, { processed: 7, delivered: 6 }],
      [2, { processed: 1, delivered: 0 }],
    ]),
  );
  const detector = new EpisodeDetector(3, 5000);
  for (let i = 0; i < 5; i++) detector.drop(1, "flood", "error", { message: "<script>alert(1)</script>" }, T0);
  history.drop(1, "flood", 5);
  const snap = statusSnapshot(sources(history, detector, now));
  const html = statusPage(snap);

  test("rows carry data-project and data-metric counters", () => {
    expect(html).toContain(
      '<tr data-project="1" class="episode"><th scope="row">1</th><td data-metric="accepted">7</td><td data-metric="delivered">6</td><td data-metric="dropped">5</td>',
    );
    expect(html).toContain('<tr data-project="2"><th scope="row">2</th><td data-metric="accepted">1</td>');
  });

  test("client text is escaped: a <script> title shows as text", () => {
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).toContain('<span class="title">&lt;script&gt;alert(1)&lt;/script&gt;</span> × 5');
    expect(esc(`<a href="x">'&`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;");
  });

  test("the gateway's facts, without credentials in Sentry's URL", () => {
    expect(html).not.toContain("hunter2");
    expect(html).toContain("latency p50 12.5 ms, p99 250 ms; 2 in flight (adaptive pacing, at most 32)");
    expect(html).toContain('<span data-metric="queue-items">5</span> reports (50 % of 10)');
    expect(html).toContain("oldest waiting ≤ 3 s");
    expect(html).toContain("3 from static, loaded 42 s ago");
    expect(html).toContain("2 members: a/1, b/2");
    expect(html).toContain("error 30 s");
  });

  test("the live part is the page's own, and the page refreshes it without reload", () => {
    expect(html).toContain(`<main id="live">${liveFragment(snap)}</main>`);
    expect(html).toContain('q.set("fragment","1")');
    expect(html).toContain('<noscript><meta http-equiv="refresh"');
  });

  test("spike protection's episodes, when it runs", () => {
    const src = {
      ...sources(history, detector, now),
      spike: () => [{ projectId: 4, category: "error", mode: "enforce", startedAt: T0, limitPerMinute: 120.4, observedPerMinute: 900.2, dropped: 780 }],
    };
    const withSpike = liveFragment(statusSnapshot(src));
    expect(withSpike).toContain('<tr data-spike="4"><th scope="row">4</th><td>error</td><td>enforce</td><td>900</td><td>120</td><td>780</td>');
    expect(html).not.toContain("Spike protection");
  });

  test("sparkline: three polylines scaled to the busiest minute", () => {
    const svg = sparkline(
      [
        { accepted: 0, delivered: 0, dropped: 0 },
        { accepted: 10, delivered: 5, dropped: 0 },
      ],
      100,
      22,
    );
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('points="0,21 100,1"');
    expect(svg).toContain('points="0,21 100,11"');
  });
});

test("past MAX_ROWS projects the page shows the busiest, and says how many it left out", () => {
  const now = () => T0;
  const history = new History(now);
  const per = new Map<number, { processed: number; delivered: number }>();
  for (let id = 1; id <= 1005; id++) per.set(id, { processed: id === 3 || id === 4 ? 1 : 10, delivered: 0 });
  history.sample(per);
  const detector = new EpisodeDetector(1, 5000);
  detector.drop(4, "flood", "error", null, T0);
  const html = liveFragment(statusSnapshot(sources(history, detector, now)));
  expect(html.match(/<tr data-project=/g)).toHaveLength(1000);
  expect(html).toContain("5 quieter projects not shown");
  expect(html).not.toContain('data-project="3"');
  expect(html).toContain('data-project="4"');
});

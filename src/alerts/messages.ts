/**
 * What an alert says, as data (AlertMessage) and as each sink format's body: JSON for machines,
 * Slack's incoming-webhook `text` for people. Titles are client text: in Slack they are escaped
 * (&, <, > as Slack asks, so `<!channel>` or `<http://x|y>` in an error message stays text) and
 * set in code spans, so `*bold*` stays text too.
 */
import type { TitleCount } from "./titles.ts";

export type AlertMessage =
  | {
      event: "start" | "resolve";
      project: number;
      reason: string;
      category: string;
      dropped: number;
      rate_per_minute: number;
      top: TitleCount[];
      started_at: string;
      /** resolve only */
      resolved_at?: string;
      duration_seconds?: number;
      instance: string;
    }
  | { event: "sentry_unreachable"; since: string; cause: string | null; instance: string }
  | { event: "sentry_reachable"; since: string; down_seconds: number; instance: string }
  | { event: "test"; instance: string; sink: string };

export type AlertFormat = "json" | "slack";

export function alertBody(message: AlertMessage, format: AlertFormat): string {
  return JSON.stringify(format === "slack" ? { text: slackText(message) } : { ...message, text: plainText(message) });
}

/** Escapes client text for Slack: its three control characters, and backticks that would end the code span. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/`/g, "ˋ");
}

function topLines(top: TitleCount[], quote: (t: string) => string): string {
  return top.map((t) => `\n• ${quote(t.title)} × ${t.count}`).join("");
}

/** One readable sentence with the facts; Slack gets it with its markup, JSON sinks as `text`. */
function describe(m: AlertMessage, quote: (t: string) => string): string {
  switch (m.event) {
    case "start":
      return `cyclops is dropping reports of project ${m.project} (${m.reason}, ${m.category}): ${m.rate_per_minute} in the last minute.${topLines(m.top, quote)}`;
    case "resolve":
      return `cyclops stopped dropping reports of project ${m.project} (${m.reason}): ${m.dropped} dropped over ${m.duration_seconds} s.${topLines(m.top, quote)}`;
    case "sentry_unreachable":
      return `cyclops cannot reach Sentry since ${m.since}${m.cause ? ` (${quote(m.cause)})` : ""}; reports stay queued.`;
    case "sentry_reachable":
      return `cyclops reaches Sentry again after ${m.down_seconds} s; forwarding the queue.`;
    case "test":
      return `cyclops alert test for sink ${m.sink} from ${m.instance}.`;
  }
}

export const plainText = (m: AlertMessage): string => describe(m, (t) => JSON.stringify(t));
const slackText = (m: AlertMessage): string =>
  `${m.event === "start" || m.event === "sentry_unreachable" ? ":rotating_light: " : ":white_check_mark: "}${describe(m, (t) => `\`${slackEscape(t)}\``)}`;

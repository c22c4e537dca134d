/**
 * zod's validation issues in an operator's words: what the option must be, naming the constraint
 * (allowed values, minimum length, range), never the value itself (load.ts decides whether the
 * value may be shown: a secret's never is).
 */
import type { z } from "zod";

const TYPE_NAMES: Record<string, string> = {
  number: "a number",
  int: "a whole number",
  string: "a string",
  boolean: "true or false",
  array: "a list (JSON array)",
  object: "a JSON object",
  record: "a JSON object",
  tuple: "a list (JSON array)",
};

type Issue = z.core.$ZodIssue;

function bound(issue: { origin?: string; inclusive?: boolean }, limit: unknown, least: boolean): string {
  const n = Number(limit);
  switch (issue.origin) {
    case "string":
      return `must be at ${least ? "least" : "most"} ${n} character${n === 1 ? "" : "s"} long`;
    case "array":
    case "set":
      return `must have at ${least ? "least" : "most"} ${n} item${n === 1 ? "" : "s"}`;
    default:
      return `must be ${least ? (issue.inclusive ? "at least" : "more than") : issue.inclusive ? "at most" : "less than"} ${n}`;
  }
}

export function describeIssue(issue: Issue): string {
  switch (issue.code) {
    case "invalid_type":
      return `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(", ")}`;
    case "too_small":
      return bound(issue, issue.minimum, true);
    case "too_big":
      return bound(issue, issue.maximum, false);
    case "invalid_format":
      if (issue.format === "url") return "must be a URL such as https://sentry.example.com";
      // a schema's own message ("\"host:port\"") says it better than the pattern
      if (issue.format === "regex") return issue.message.startsWith("Invalid") ? `must match ${String((issue as { pattern?: unknown }).pattern)}` : `must be ${issue.message}`;
      return `must be ${issue.format}`;
    case "invalid_key":
      return `has a bad key: ${issue.issues[0] ? describeIssue(issue.issues[0]) : "invalid"}`;
    case "not_multiple_of":
      return `must be a multiple of ${issue.divisor}`;
    default:
      return issue.message;
  }
}

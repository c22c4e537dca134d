/**
 * Renders the schema for people: the JSON that `cyclops init` writes (every option with its
 * default, each preceded by a "//KEY" doc entry, which the loader skips; the repository keeps a
 * copy as cyclops.conf.example.json) and the README's option table. All come from OPTIONS alone,
 * and tests check the README and the example file against them.
 */
import { OPTIONS, envVarOf } from "./schema.ts";

/** Read before anything else in the template: without a real key, every report is refused. */
const KEYS_NOTE =
  "Keys: PROJECT_KEYS must hold your Sentry projects' keys, or every report is answered 401. Copy each project's DSN from Sentry (Project Settings > Client Keys (DSN)) and run `cyclops init --dsn <DSN> [--dsn <DSN> ...] conf.json`, which writes SENTRY_BASE_URL and PROJECT_KEYS from them.";

/** `cyclops init`'s JSON; `values` replaces defaults (init --dsn), and then the keys note is left out. */
export function initJson(values: Partial<Record<string, unknown>> = {}): string {
  const lines: string[] = [];
  if (!("PROJECT_KEYS" in values)) lines.push(`  ${JSON.stringify("// keys")}: ${JSON.stringify(KEYS_NOTE)},`);
  let section = "";
  const entries = Object.entries(OPTIONS);
  entries.forEach(([key, def], i) => {
    if (def.section !== section) {
      section = def.section;
      lines.push(`  ${JSON.stringify(`// ---- ${section} ----`)}: "",`);
    }
    lines.push(`  ${JSON.stringify(`//${key}`)}: ${JSON.stringify(`${def.doc} Env: ${envVarOf(key)}.`)},`);
    lines.push(`  ${JSON.stringify(key)}: ${JSON.stringify(key in values ? values[key] : def.default)}${i === entries.length - 1 ? "" : ","}`);
  });
  return `{\n${lines.join("\n")}\n}\n`;
}

const cell = (s: string) => s.replace(/\|/g, "\\|");

export function readmeTable(): string {
  const rows = ["| Option | Default | Environment | Meaning |", "|---|---|---|---|"];
  for (const [key, def] of Object.entries(OPTIONS)) {
    rows.push(`| \`${key}\` | \`${cell(JSON.stringify(def.default))}\` | \`${envVarOf(key)}\` | ${cell(def.doc)} |`);
  }
  return rows.join("\n");
}

export const README_TABLE_BEGIN = "<!-- options:begin (generated from src/config/schema.ts by `bun src/config/render.ts`) -->";
export const README_TABLE_END = "<!-- options:end -->";

/** The repository's copy of `cyclops init`'s output. */
export const EXAMPLE_CONFIG = "cyclops.conf.example.json";

if (import.meta.main) {
  // `bun src/config/render.ts` rewrites the README's table in place and the example config.
  await Bun.write(new URL(`../../${EXAMPLE_CONFIG}`, import.meta.url).pathname, initJson());
  const path = new URL("../../README.md", import.meta.url).pathname;
  const text = await Bun.file(path).text();
  const start = text.indexOf(README_TABLE_BEGIN);
  const end = text.indexOf(README_TABLE_END);
  if (start < 0 || end < 0) throw new Error("README.md has no options markers");
  await Bun.write(path, text.slice(0, start + README_TABLE_BEGIN.length) + "\n" + readmeTable() + "\n" + text.slice(end));
}

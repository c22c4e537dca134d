/**
 * `npm ci --omit=dev && npm start` (the README's production run) installs only `dependencies`: every
 * package src/ imports at run time, and `bun` itself (npm start runs `bun src/main.ts`), must be
 * there and not among the devDependencies.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

/** Package names of the value imports (not `import type`) of a TypeScript file. */
function importedPackages(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/^\s*import\s+(?!type\s)(?:[^'"]*?\s+from\s+)?["']([^"'.][^"']*)["']|import\(\s*["']([^"'.][^"']*)["']\s*\)/gm)) {
    const spec = (m[1] ?? m[2])!;
    if (spec.startsWith("node:") || spec.startsWith("bun:") || spec === "bun") continue;
    names.push(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
  }
  return names;
}

test("every package src/ imports at run time is a dependency, and so is bun for npm start", () => {
  const deps = Object.keys(pkg.dependencies);
  const imported = new Set(sources(join(import.meta.dir, "../../src")).flatMap((f) => importedPackages(readFileSync(f, "utf8"))));
  expect(imported.size).toBeGreaterThan(3);
  for (const name of imported) expect(deps).toContain(name);
  expect(pkg.scripts.start).toStartWith("bun ");
  expect(deps).toContain("bun");
  expect(Object.keys(pkg.devDependencies)).not.toContain("bun");
});

/**
 * The layering of src/, read from the imports (type-only ones included): a room (a folder of
 * src/, or a file at its top) may import rooms of lower layers only, never a room of its own
 * layer or a higher one, and no chain of imports between files comes back to where it started.
 *
 * The layers, lowest first:
 *
 *   0  protocol, config, outcome, log, version   pure decoding, options, the outcome list
 *   1  redis                                      one Redis connection, keys and scripts (issue 16 item 3)
 *   2  storage, throttle, keys                    the queue, the flood counters, project keys
 *   3  stats                                      counters, /count, /metrics (reads queue and keys)
 *   4  spike                                      spike protection's state, consulted by admission
 *   5  admission, forward                         what becomes of a report; delivery to Sentry
 *   6  alerts, status                             watch outcomes and delivery, for operators
 *   7  server                                     HTTP only: request → decode → admission → answer
 *   8  gateway                                    the composition root: builds and runs the rest
 *   9  cli                                        commands
 *  10  main                                       the entry point
 *
 * A new room must be given its layer here: the test fails for a folder it does not know.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, test } from "bun:test";

const LAYERS: Record<string, number> = {
  protocol: 0,
  config: 0,
  outcome: 0,
  log: 0,
  version: 0,
  redis: 1,
  storage: 2,
  throttle: 2,
  keys: 2,
  stats: 3,
  spike: 4,
  admission: 5,
  forward: 5,
  alerts: 6,
  status: 6,
  server: 7,
  gateway: 8,
  cli: 9,
  main: 10,
};

/**
 * Imports that break the layering today, each with the issue that removes it. When the import
 * goes, its line here must go too (the test fails for an exception no longer needed).
 */
const KNOWN_EXCEPTIONS: ReadonlySet<string> = new Set<string>([]);

/** The team's bar for a source file's length. */
const MAX_LINES = 300;
/** Files over it today, each being split by the engineer who owns it (issue 16, "What it must show"). */
const OVERSIZED: ReadonlySet<string> = new Set<string>([]);

const SRC = resolve(import.meta.dir, "../../src");

/** Relative module specifiers of a source file: static, re-export, side-effect and dynamic imports. */
export function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found: string[] = [];
  for (const re of [/\bfrom\s*"(\.[^"]+)"/g, /\bimport\s*\(\s*"(\.[^"]+)"\s*\)/g, /^\s*import\s*"(\.[^"]+)"/gm]) {
    for (const m of code.matchAll(re)) found.push(m[1]!);
  }
  return found;
}

/** The room of a path under src/: its top folder, or its file name without extension. */
export function roomOf(pathInSrc: string): string {
  const first = pathInSrc.split("/")[0]!;
  return first.replace(/\.[a-z]+$/, "");
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** File → the src files it imports (imports leaving src/, such as package.json, are left out). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file);
    const targets = importsOf(readFileSync(file, "utf8"))
      .map((spec) => relative(SRC, resolve(dirname(file), spec)))
      .filter((to) => !to.startsWith(".."));
    graph.set(from, targets);
  }
  return graph;
}

/** Room-to-room imports that go sideways or up, as "from -> to" with an example file. */
export function layeringViolations(graph: ReadonlyMap<string, readonly string[]>, layers: Record<string, number>): Map<string, string> {
  const bad = new Map<string, string>();
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const a = roomOf(from);
      const b = roomOf(to);
      if (a === b) continue;
      if (layers[a]! <= layers[b]!) bad.set(`${a} -> ${b}`, `${from} imports ${to}`);
    }
  }
  return bad;
}

/** Every import cycle between files, each as the files around it. */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, "open");
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      const s = state.get(next);
      if (s === "open") found.push([...path.slice(path.indexOf(next)), next]);
      else if (s === undefined && graph.has(next)) visit(next);
    }
    path.pop();
    state.set(file, "done");
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  return found;
}

describe("src/ layering", () => {
  const graph = importGraph();

  test("the import reader sees every form of import", () => {
    const src = `import type { A } from "./a.ts";\nimport {\n  b,\n  type B,\n} from "../b/b.ts";\nexport * from "./c.ts";\nexport type { D } from "./d.ts";\nimport "./e.ts";\nconst f = await import("./f.ts");\n/* from "./not-g.ts" */\n// import "./not-h.ts"\nimport x from "node:fs";`;
    expect(importsOf(src)).toEqual(["./a.ts", "../b/b.ts", "./c.ts", "./d.ts", "./f.ts", "./e.ts"]);
    // And reads the tree: the server's deps name the storage by a type-only import.
    expect(graph.get("server/deps.ts")).toContain("storage/queue.ts");
  });

  test("every room has a layer", () => {
    const unknown = [...new Set([...graph.keys()].map(roomOf))].filter((room) => LAYERS[room] === undefined);
    expect(unknown).toEqual([]);
  });

  test("no room imports its own layer or a higher one (but the known exceptions)", () => {
    const bad = layeringViolations(graph, LAYERS);
    const unexpected = [...bad].filter(([edge]) => !KNOWN_EXCEPTIONS.has(edge)).map(([edge, example]) => `${edge} (${example})`);
    expect(unexpected).toEqual([]);
    const stale = [...KNOWN_EXCEPTIONS].filter((edge) => !bad.has(edge));
    expect(stale).toEqual([]);
  });

  test("no import cycles between files", () => {
    // Cycles through the known exceptions go with them.
    const found = cycles(graph).filter((c) => !c.some((f, i) => i > 0 && KNOWN_EXCEPTIONS.has(`${roomOf(c[i - 1]!)} -> ${roomOf(f)}`)));
    expect(found.map((c) => c.join(" -> "))).toEqual([]);
  });

  test("no file in src/ over 300 lines (but the known exceptions)", () => {
    const long = [...graph.keys()]
      .filter((file) => !OVERSIZED.has(file))
      .map((file) => [file, readFileSync(join(SRC, file), "utf8").split("\n").length - 1] as const)
      .filter(([, lines]) => lines > MAX_LINES);
    expect(long).toEqual([]);
  });

  test("the checks catch what they are for", () => {
    const g = new Map([
      ["storage/a.ts", ["server/b.ts"]],
      ["server/b.ts", ["storage/a.ts", "admission/c.ts"]],
      ["admission/c.ts", ["forward/d.ts"]],
      ["forward/d.ts", []],
    ]);
    expect([...layeringViolations(g, LAYERS).keys()]).toEqual(["storage -> server", "admission -> forward"]);
    expect(cycles(g)).toEqual([["server/b.ts", "storage/a.ts", "server/b.ts"]]);
  });
});

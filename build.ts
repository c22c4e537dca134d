/**
 * `npm run build`: one self-contained executable for this machine at dist/cyclops (bun build
 * --compile). Lua and other non-TypeScript assets are imported with `with { type: "text" }`, so
 * they are embedded. `compile()` is shared with release.ts, which builds for other platforms.
 */
import { mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";

/** The commit being built (with "-dirty" when the work tree has changes), for `--version`. */
export function buildCommit(): string {
  const git = (args: string[]) => Bun.spawnSync(["git", ...args], { cwd: import.meta.dir, stdout: "pipe", stderr: "ignore" });
  const head = git(["rev-parse", "--short=12", "HEAD"]);
  if (head.exitCode !== 0) return "unknown";
  const dirty = git(["status", "--porcelain", "--untracked-files=no"]).stdout.toString().trim() !== "";
  return head.stdout.toString().trim() + (dirty ? "-dirty" : "");
}

export interface CompileOptions {
  outfile: string;
  /** Bun's compile target, e.g. "bun-linux-arm64"; the host when absent. */
  target?: Bun.Build.CompileTarget;
  /** The Bun runtime to embed (cross-compiling); Bun's own download when absent. */
  executablePath?: string;
  commit?: string;
}

export async function compile(opts: CompileOptions): Promise<void> {
  mkdirSync(dirname(opts.outfile), { recursive: true });
  const result = await Bun.build({
    entrypoints: ["./src/main.ts"],
    root: import.meta.dir,
    minify: { syntax: true, whitespace: true },
    target: "bun",
    define: { CYCLOPS_BUILD_COMMIT: JSON.stringify(opts.commit ?? buildCommit()) },
    compile: {
      outfile: opts.outfile,
      ...(opts.target ? { target: opts.target } : {}),
      ...(opts.executablePath ? { executablePath: opts.executablePath } : {}),
    },
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`build of ${opts.outfile} failed`);
  }
}

if (import.meta.main) {
  const outfile = process.argv[2] ?? "dist/cyclops";
  const started = performance.now();
  try {
    await compile({ outfile });
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
  const mb = (statSync(outfile).size / 1024 / 1024).toFixed(1);
  console.log(`built ${outfile} (${mb} MiB) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * The version (package.json, embedded at build time) and the commit the binary was built from:
 * build.ts defines CYCLOPS_BUILD_COMMIT; a run from the sources asks git, once, when asked.
 */
import pkg from "../package.json" with { type: "json" };

declare const CYCLOPS_BUILD_COMMIT: string | undefined;

export const VERSION: string = pkg.version;

function sourceCommit(): string {
  try {
    const git = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: import.meta.dir, stdout: "pipe", stderr: "ignore" });
    const out = git.stdout.toString().trim();
    return git.exitCode === 0 && out ? `${out}, run from the sources` : "unknown, run from the sources";
  } catch {
    return "unknown, run from the sources";
  }
}

/** `cyclops --version`: "2.0.0 (commit 1a2b3c4d5e6f)". */
export function versionLine(): string {
  const commit = typeof CYCLOPS_BUILD_COMMIT === "string" ? CYCLOPS_BUILD_COMMIT : sourceCommit();
  return `${VERSION} (commit ${commit})`;
}

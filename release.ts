/**
 * `npm run release`: dist/release/cyclops-<version>-<platform> for each platform below, and
 * SHA256SUMS (`sha256sum -c SHA256SUMS` verifies them). Bun cross-compiles; the runtime it embeds
 * for each platform is the npm registry's @oven/bun-<platform> package of the running Bun's
 * version, fetched with `npm pack` (which checks the registry's integrity hash) and cached in
 * dist/runtimes/. Nothing else is downloaded.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import pkg from "./package.json" with { type: "json" };
import { buildCommit, compile } from "./build.ts";

interface Platform {
  /** Suffix of the file name. */
  name: string;
  target: Bun.Build.CompileTarget;
  /** npm package holding Bun's runtime for it. */
  runtime: string;
}

export const PLATFORMS: Platform[] = [
  { name: "linux-x64", target: "bun-linux-x64", runtime: "@oven/bun-linux-x64" },
  // For x86-64 CPUs without AVX2 (older Xeons, some virtual CPUs); the same runtime built for them.
  { name: "linux-x64-baseline", target: "bun-linux-x64-baseline", runtime: "@oven/bun-linux-x64-baseline" },
  { name: "linux-arm64", target: "bun-linux-arm64", runtime: "@oven/bun-linux-aarch64" },
  { name: "linux-x64-musl", target: "bun-linux-x64-musl", runtime: "@oven/bun-linux-x64-musl" },
];

const ROOT = import.meta.dir;
const OUT = join(ROOT, "dist/release");
const RUNTIMES = join(ROOT, "dist/runtimes");

function run(cmd: string[], cwd: string): string {
  const p = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (exit ${p.exitCode}): ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}

/** The bun executable of `pkgName`@`version`, from the registry once, then from dist/runtimes/. */
function runtimeOf(pkgName: string, version: string): string {
  const dir = join(RUNTIMES, `${pkgName.replace("@oven/", "")}-${version}`);
  const bin = join(dir, "package/bin/bun");
  if (existsSync(bin)) return bin;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const packed = JSON.parse(run(["npm", "pack", `${pkgName}@${version}`, "--json", "--pack-destination", dir], dir)) as Array<{ filename: string }>;
  run(["tar", "xzf", packed[0]!.filename, "package/bin/bun"], dir);
  return bin;
}

export const sha256 = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

if (import.meta.main) {
  const started = performance.now();
  const commit = buildCommit();
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const sums: string[] = [];
  const runtimes = new Map<string, string>(); // runtime's sha256 → the platform built with it
  for (const p of PLATFORMS) {
    const file = `cyclops-${pkg.version}-${p.name}`;
    const outfile = join(OUT, file);
    const runtime = runtimeOf(p.runtime, Bun.version);
    const same = runtimes.get(sha256(runtime));
    if (same) {
      // e.g. Bun 1.4.5's x64 runtime is its baseline build: a second file would be the same bytes.
      console.log(`skipped ${file}: Bun ${Bun.version}'s ${p.runtime} is byte-identical to the runtime of ${same}: no second copy`);
      continue;
    }
    runtimes.set(sha256(runtime), file);
    await compile({ outfile, target: p.target, executablePath: runtime, commit });
    sums.push(`${sha256(outfile)}  ${file}`);
    console.log(`built ${resolve(outfile)} (${(statSync(outfile).size / 1024 / 1024).toFixed(1)} MiB)`);
  }
  writeFileSync(join(OUT, "SHA256SUMS"), sums.join("\n") + "\n");
  console.log(`wrote ${join(OUT, "SHA256SUMS")} (commit ${commit}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

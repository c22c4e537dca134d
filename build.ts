/**
 * `npm run build`: one self-contained executable at dist/cyclops (bun build --compile). Lua and
 * other non-TypeScript assets are imported with `with { type: "text" }`, so they are embedded.
 */
import { mkdirSync, statSync } from "node:fs";

const outfile = process.argv[2] ?? "dist/cyclops";
mkdirSync("dist", { recursive: true });
const started = performance.now();
const proc = Bun.spawnSync(
  [process.execPath, "build", "--compile", "--minify-syntax", "--minify-whitespace", "--target=bun", "./src/main.ts", "--outfile", outfile],
  { stdout: "inherit", stderr: "inherit" },
);
if (proc.exitCode !== 0) {
  console.error(`build failed (exit ${proc.exitCode})`);
  process.exit(proc.exitCode ?? 1);
}
const mb = (statSync(outfile).size / 1024 / 1024).toFixed(1);
console.log(`built ${outfile} (${mb} MiB) in ${((performance.now() - started) / 1000).toFixed(1)} s`);

/** `cyclops init [FILE]`: the schema rendered as a documented JSON config that `serve -c` reads back. */
import { existsSync, writeFileSync } from "node:fs";
import { initJson } from "../config/render.ts";
import { UsageError, type CliIO } from "./io.ts";

export async function initCommand(file: string | undefined, opts: { force?: boolean }, io: CliIO): Promise<number> {
  const text = initJson();
  if (!file) {
    io.out(text);
    return 0;
  }
  if (existsSync(file) && !opts.force) throw new UsageError(`${file} exists; use --force to overwrite it`);
  try {
    writeFileSync(file, text);
  } catch (e) {
    throw new UsageError(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  io.err(`wrote ${file}\n`);
  return 0;
}

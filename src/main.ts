#!/usr/bin/env bun
/** Binary entry: argv → cli/main, nothing else (but the allocator restart `serve` needs first). */
import { restartWithAllocatorSettings } from "./cli/allocator.ts";

if (process.argv[2] === "serve") restartWithAllocatorSettings();
const { main } = await import("./cli/main.ts");
const code = await main(process.argv.slice(2));
if (code !== null) process.exit(code);

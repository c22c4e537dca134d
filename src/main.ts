#!/usr/bin/env bun
/** Binary entry: argv → cli/main, nothing else. */
import { main } from "./cli/main.ts";

const code = await main(process.argv.slice(2));
if (code !== null) process.exit(code);

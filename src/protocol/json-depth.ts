/**
 * The nesting bound on client JSON. Relay reads events with serde_json, whose recursion limit is
 * 128 ("recursion limit exceeded"): deeper JSON is a 400 "invalid JSON data" there, so it is here.
 * JSON.parse itself copes with depth, but anything that later walks the value recursively
 * (JSON.stringify, a grouping walk) would overflow the stack after holding the event loop for
 * half a second (issue 18).
 */
import { Detail, ProtocolError } from "./errors.ts";

/** serde_json's default recursion limit. */
export const MAX_JSON_DEPTH = 128;

/**
 * True when `text` (JSON) nests arrays/objects deeper than `max`. Deeper than `max` needs more
 * than `max` opening brackets, which two native indexOf passes count cheaply (~1.4 µs for a 2 KB
 * event); only then are the brackets walked, strings skipped.
 */
export function jsonDeeperThan(text: string, max = MAX_JSON_DEPTH): boolean {
  let opening = 0;
  for (let i = text.indexOf("["); i !== -1 && opening <= max; i = text.indexOf("[", i + 1)) opening++;
  for (let i = text.indexOf("{"); i !== -1 && opening <= max; i = text.indexOf("{", i + 1)) opening++;
  if (opening <= max) return false;
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** Throws Relay's 400 for JSON nested past MAX_JSON_DEPTH; `detail` is the endpoint's wording. */
export function checkJsonDepth(text: string, detail: string = Detail.invalidJson): void {
  if (jsonDeeperThan(text)) throw new ProtocolError(400, detail, ["recursion limit exceeded"]);
}

/**
 * The header side of a parsed response (parser.ts): names checked against HTTP's token grammar
 * and lowercased, the map they are read from, and comma-separated tokens.
 */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Response headers, read the way upstream.ts reads fetch's Headers. */
export class ResponseHeaders {
  constructor(private readonly map: Map<string, string>) {}
  get(name: string): string | null {
    return this.map.get(name.toLowerCase()) ?? null;
  }
}

/**
 * Header names as the map keys them (lowercased), checked against HTTP's token grammar once per
 * spelling: a response's names recur in every answer, and checking and lowercasing each anew
 * was most of the parse (bounded, so endless new names only lose the cache).
 */
const headerNames = new Map<string, string>();

export function headerName(raw: string): string | null {
  let name = headerNames.get(raw);
  if (name === undefined) {
    if (!HEADER_NAME.test(raw)) return null;
    name = raw.toLowerCase();
    if (headerNames.size < 256) headerNames.set(raw, name);
  }
  return name;
}

/** A comma-separated header's tokens, lowercased. */
export const tokens = (value: string): string[] => value.split(",").map((t) => t.trim().toLowerCase());

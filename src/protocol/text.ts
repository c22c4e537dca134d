/** Byte-level text helpers the decoders share. */

/** JSON's whitespace (RFC 8259 §2): space, tab, line feed, carriage return. */
export function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** UTF-8 that throws on invalid bytes instead of replacing them (Relay rejects them). */
export const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

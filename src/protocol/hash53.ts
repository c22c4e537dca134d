/**
 * A 53-bit string hash fed piece by piece, so a key made of many parts (an event's grouping
 * input: types, modules, functions, separators) is hashed without building the key string.
 * The mixing is cyrb53's (bryc, public domain): two 32-bit multiply-xor lanes over the UTF-16
 * code units, folded into 53 bits, so every value is exact as a JavaScript number. Feeding
 * "ab" then "c" gives the hash of "abc".
 *
 * Why not Bun.hash.wyhash on a built string: measured at the socket (bench/floor.ts, paired
 * runs), building the grouping string and hashing it cost about a tenth of a minimal gateway's
 * CPU per report: ~30 short strings, a rope flattened for the native call, and BigInt results.
 */

/** Receives a key's parts in order (Hash53, or a recorder in tests). */
export interface KeySink {
  /** One UTF-16 code unit. */
  char(code: number): void;
  text(s: string): void;
}

export class Hash53 implements KeySink {
  private h1 = 0;
  private h2 = 0;

  /** Starts a new key; `seed` (any safe integer, e.g. a project id) keeps key spaces apart. */
  reset(seed: number): this {
    this.h1 = 0xdeadbeef;
    this.h2 = 0x41c6ce57;
    // Both halves of the seed: sentry.io project ids pass 2^32.
    this.char(seed >>> 0);
    this.char(Math.floor(seed / 4294967296) >>> 0);
    return this;
  }

  char(code: number): void {
    this.h1 = Math.imul(this.h1 ^ code, 2654435761);
    this.h2 = Math.imul(this.h2 ^ code, 1597334677);
  }

  text(s: string): void {
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    this.h1 = h1;
    this.h2 = h2;
  }

  /** The hash of everything fed since `reset`: an integer in [0, 2^53). */
  value(): number {
    let h1 = this.h1;
    let h2 = this.h2;
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
    h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
    h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return 4294967296 * (2097151 & h2) + (h1 >>> 0);
  }
}

/** The hash of one whole string. */
export function hash53(text: string, seed: number): number {
  const h = new Hash53().reset(seed);
  h.text(text);
  return h.value();
}

/**
 * Where a report's credentials come from besides the body's decoding: the request's headers and
 * query (parsed once per header text), an envelope header's dsn, and GET store's `sentry_data`.
 */
import { extractAuth, formDecode, type Auth } from "../protocol/auth.ts";
import { parseDsn } from "../protocol/dsn.ts";
import { parseEnvelopeHeader } from "../protocol/envelope.ts";
import { Detail, ProtocolError } from "../protocol/errors.ts";

/** Parsed credentials, remembered by their header text (see `of`). */
export class CredentialCache {
  /**
   * Parsed credentials, remembered by their header text: an SDK sends the same X-Sentry-Auth on
   * every report, so a flood parses it once. Only header-only credentials are remembered (a query
   * with sentry_ parameters takes part in the parse and may carry sentry_data); the cache is
   * bounded and parsed values are never mutated.
   */
  private readonly cache = new Map<string, Auth | null>();

  /**
   * `maxEntries` is sized for thousands of projects with a few SDK versions each: at 4,096 and
   * cleared when full, 5,000 projects missed about half the time, and each miss cost a parse, a
   * new Auth (so storage re-encoded its head, item.ts) and garbage. Past the bound the oldest
   * entry goes, so a stream of new header texts costs one parse each and no more.
   */
  constructor(private readonly maxEntries = 16_384) {}

  of(xSentryAuth: string | null, authorization: string | null, query: string): Auth | null {
    if (query.includes("sentry_")) return extractAuth({ xSentryAuth, authorization, query });
    const cacheKey = authorization === null ? (xSentryAuth ?? "") : `${xSentryAuth ?? ""}\n${authorization}`;
    const cached = this.cache.get(cacheKey);
    if (cached !== undefined) return cached;
    const auth = extractAuth({ xSentryAuth, authorization, query }); // throws for bad credentials: not cached
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(cacheKey, auth);
    return auth;
  }

  get size(): number {
    return this.cache.size;
  }
}

/** Credentials from an envelope header's dsn (Relay reads it as request metadata, EnvelopeParams). */
export function envelopeAuth(head: Uint8Array): Auth {
  if (head.byteLength === 0) throw new ProtocolError(400, Detail.emptyBody);
  const dsn = parseEnvelopeHeader(head).dsn;
  if (typeof dsn !== "string") throw new ProtocolError(401, Detail.badEnvelopeAuth);
  const parsed = parseDsn(dsn);
  return { publicKey: parsed.publicKey, secretKey: parsed.secretKey, client: null, version: 7 };
}

/**
 * `sentry_data` from a raw query string, form-decoded as the auth parameters are (protocol/auth.ts,
 * like Relay's url crate: an invalid escape stays as written); null when absent.
 */
export function sentryDataParam(query: string): string | null {
  for (const part of query.split("&")) {
    if (part.startsWith("sentry_data=")) return formDecode(part.slice(12));
  }
  return null;
}

/**
 * Typed protocol errors and the response body Relay gives for them.
 *
 * Detail strings are Relay's own (relay-server `extractors/request_meta.rs` `BadEventMeta`,
 * `endpoints/common.rs` `BadStoreRequest`), so SDKs and operators see what Sentry would say.
 * Where Relay has no text of its own, the choice is documented next to the constant.
 */

export type ProtocolStatus = 400 | 401 | 403 | 405 | 413 | 415;

export class ProtocolError extends Error {
  constructor(
    public readonly status: ProtocolStatus,
    public readonly detail: string,
    public readonly causes: string[] = [],
  ) {
    super(causes.length > 0 ? `${detail}: ${causes.join(": ")}` : detail);
    this.name = "ProtocolError";
  }
}

/** Every detail string the protocol layer emits, so callers and tests never retype them. */
export const Detail = {
  missingAuth: "missing authorization information",
  badAuthHeader: "bad x-sentry-auth header",
  multipleAuth: "multiple authorization payloads detected",
  badPublicKey: "bad sentry DSN public key",
  unsupportedVersion: (version: number | string): string => `unsupported protocol version (${version})`,
  badEnvelopeAuth: "bad envelope authentication header",
  invalidEnvelope: "invalid event envelope",
  invalidJson: "invalid JSON data",
  emptyBody: "empty request body",
  badProject: "bad project path parameter",
  readBody: "failed to read request body",
  /** Relay `BadStoreRequest::Overflow` ("envelope exceeded size limits for type '…'"), without the type. */
  envelopeTooLarge: "envelope exceeded size limits",
  /**
   * Relay answers an oversized body with axum's `DefaultBodyLimit` 413 (no JSON detail of its own);
   * the wording is ours, in Relay's lowercase style.
   */
  bodyTooLarge: "request body too large",
  /**
   * tower-http `RequestDecompressionLayer` (used by Relay) answers an unknown Content-Encoding with
   * 415 and an empty body; the wording is ours.
   */
  unsupportedEncoding: "unsupported content encoding",
  /** 405: Relay's router (axum) answers with an empty body; wording ours. */
  methodNotAllowed: "method not allowed",
} as const;

/** The response body Sentry gives: {"detail": "...", "causes": [...]} (causes omitted when empty). */
export function errorBody(detail: string, causes?: string[]): string {
  return causes !== undefined && causes.length > 0 ? JSON.stringify({ detail, causes }) : JSON.stringify({ detail });
}

/**
 * DSNs: `{PROTOCOL}://{PUBLIC_KEY}[:{SECRET_KEY}]@{HOST}{PATH}/{PROJECT_ID}` ([DEV] overview.mdx).
 *
 * Rules follow sentry-types `Dsn::from_str` plus Relay's `PartialDsn::from_dsn` (numeric project id,
 * valid public key): http/https only, a user name (public key) required, an empty password means
 * no secret, the last path segment is the project id and the segments before it are the path
 * prefix. Any failure is Relay's envelope-header answer, 401 "bad envelope authentication header",
 * since a DSN only ever reaches us inside an envelope header (tunnel requests).
 */
import { parsePublicKey } from "./auth.ts";
import { Detail, ProtocolError } from "./errors.ts";

export interface Dsn {
  publicKey: string;
  secretKey: string | null;
  projectId: number;
  /** host name plus ":port" when the DSN names a port */
  host: string;
  /** prefix before the project id, "" or like "/sentry" (no trailing slash) */
  path: string;
  /** "http" or "https" */
  protocol: string;
}

function bad(): ProtocolError {
  return new ProtocolError(401, Detail.badEnvelopeAuth);
}

export function parseDsn(dsn: string): Dsn {
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    throw bad();
  }
  const protocol = url.protocol.slice(0, -1);
  if (protocol !== "http" && protocol !== "https") throw bad();
  if (url.username === "" || url.hostname === "") throw bad();

  const trimmed = url.pathname.replace(/^\/+|\/+$/g, "");
  const slash = trimmed.lastIndexOf("/");
  const idText = slash === -1 ? trimmed : trimmed.slice(slash + 1);
  if (!/^[0-9]{1,15}$/.test(idText)) throw bad();
  const prefix = slash === -1 ? "" : trimmed.slice(0, slash);

  let publicKey: string;
  try {
    const user = decodeURIComponent(url.username);
    // `ProjectKey::parse`, not `parse_with_flags`: a DSN carries no ".flag" suffixes.
    if (user.includes(".")) throw bad();
    publicKey = parsePublicKey(user);
  } catch {
    throw bad();
  }
  return {
    publicKey,
    secretKey: url.password === "" ? null : decodeURIComponent(url.password),
    projectId: Number(idText),
    host: url.host,
    path: prefix === "" ? "" : `/${prefix}`,
    protocol,
  };
}

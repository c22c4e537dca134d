/**
 * Checks the malformed-request corpus itself: its shape, and that a minimal reference pipeline
 * built only from src/protocol (path → method → auth → decoding → body → key) gives each entry the
 * expected status and detail. The HTTP suites replay the same corpus against the real server.
 */
import { describe, expect, test } from "bun:test";
import { extractAuth, formDecode } from "../../src/protocol/auth.ts";
import { decodeContentEncoding, decodeSentryData, decodeStoreBody, parseEventJson } from "../../src/protocol/body.ts";
import { parseDsn } from "../../src/protocol/dsn.ts";
import { checkEnvelopeDsn, envelopeEventItem, parseEnvelope, parseEnvelopeHeader, parseEventItem } from "../../src/protocol/envelope.ts";
import { storeEventId } from "../../src/protocol/event-id.ts";
import { Detail, ProtocolError } from "../../src/protocol/errors.ts";
import { FIXTURE_KEY, FIXTURE_MAX_ENVELOPE_SIZE, FIXTURE_MAX_EVENT_SIZE, FIXTURE_PROJECT, malformedRequests, type MalformedRequest } from "../fixtures/malformed.ts";

interface Answer {
  status: number;
  detail?: string;
}

function queryParam(query: string, name: string): string | null {
  for (const pair of query.split("&")) {
    const eq = pair.indexOf("=");
    if ((eq === -1 ? pair : pair.slice(0, eq)) === name) return eq === -1 ? "" : formDecode(pair.slice(eq + 1));
  }
  return null;
}

function reference(req: MalformedRequest): Answer {
  const q = req.path.indexOf("?");
  const pathname = q === -1 ? req.path : req.path.slice(0, q);
  const query = q === -1 ? "" : req.path.slice(q + 1);
  const m = /^\/api\/(?:([^/]+)\/)?(store|envelope)\/$/.exec(pathname);
  if (m === null) return { status: 404 };
  const route = m[2]!;
  let projectId: number | null = null;
  if (m[1] !== undefined) {
    const id = decodeURIComponent(m[1]);
    if (!/^[0-9]{1,19}$/.test(id) || BigInt(id) > 18446744073709551615n) return { status: 400, detail: Detail.badProject };
    projectId = Number(id);
  } else if (route === "envelope") return { status: 404 };
  if (!(req.method === "POST" || (req.method === "GET" && route === "store"))) return { status: 405 };

  const h = req.headers;
  try {
    const auth = extractAuth({ xSentryAuth: h["x-sentry-auth"] ?? null, authorization: h["authorization"] ?? null, query });
    const max = route === "envelope" ? FIXTURE_MAX_ENVELOPE_SIZE : FIXTURE_MAX_EVENT_SIZE;
    let body = decodeContentEncoding(req.body, h["content-encoding"] ?? null, max);
    let publicKey = auth?.publicKey ?? null;
    if (route === "store") {
      if (publicKey === null) return { status: 401, detail: Detail.missingAuth };
      if (req.method === "GET") {
        const data = queryParam(query, "sentry_data");
        body = data === null ? new Uint8Array(0) : decodeSentryData(data, max);
      }
      if (body.length === 0) return { status: 400, detail: Detail.emptyBody };
      storeEventId(parseEventJson(decodeStoreBody(body, max), auth?.client ?? null));
    } else {
      if (publicKey === null) {
        const dsn = parseEnvelopeHeader(body).dsn;
        if (typeof dsn !== "string") throw new ProtocolError(401, Detail.badEnvelopeAuth);
        const parsed = parseDsn(dsn);
        publicKey = parsed.publicKey;
        projectId = parsed.projectId;
      }
      if (body.length === 0) return { status: 400, detail: Detail.emptyBody };
      const envelope = parseEnvelope(body);
      checkEnvelopeDsn(envelope, projectId, publicKey);
      const event = envelopeEventItem(envelope);
      if (event !== null) parseEventItem(event, FIXTURE_MAX_EVENT_SIZE);
    }
    if (publicKey !== FIXTURE_KEY || (projectId ?? FIXTURE_PROJECT) !== FIXTURE_PROJECT) return { status: 403 };
    return { status: 200 };
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    return { status: e.status, detail: e.detail };
  }
}

const corpus = malformedRequests();

describe("malformed corpus", () => {
  test("has at least 200 uniquely named requests of sound shape", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(200);
    expect(new Set(corpus.map((r) => r.name)).size).toBe(corpus.length);
    for (const r of corpus) {
      expect(r.path.startsWith("/api/")).toBe(true);
      expect(r.body).toBeInstanceOf(Uint8Array);
      expect([200, 400, 401, 403, 405, 413, 415]).toContain(r.expectedStatus);
      for (const [k, v] of Object.entries(r.headers)) {
        expect(k).toBe(k.toLowerCase());
        expect(typeof v).toBe("string");
      }
    }
  });

  test("covers every expected status", () => {
    expect(new Set(corpus.map((r) => r.expectedStatus))).toEqual(new Set([200, 400, 401, 403, 405, 413, 415]));
  });

  test.each(corpus.map((r) => [r.name, r] as const))("%s", (_name, req) => {
    const answer = reference(req);
    expect(answer.status).toBe(req.expectedStatus);
    if (req.expectedDetail !== undefined) expect(answer.detail).toBe(req.expectedDetail);
  });
});

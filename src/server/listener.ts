/**
 * The HTTP listener: ingest paths to the ingest pipeline by string compares (routes.ts), the rest
 * to the Hono app (app.ts). `createHandler` is the whole HTTP surface as a function of a Request,
 * so tests can drive it in process without a socket; `listen` puts it on a port.
 */
import type { Server } from "bun";
import type { Deps } from "./deps.ts";
import { createApp } from "./app.ts";
import { IngestPipeline } from "./ingest.ts";
import { clientIp, matchIngestUrl } from "./routes.ts";

/** The socket's peer address of a request; absent in process (then only proxy headers name the client). */
export type PeerAddress = (req: Request) => string | null;

export type Handler = (req: Request, peer?: PeerAddress, server?: Server<undefined>) => Response | Promise<Response>;

const noPeer: PeerAddress = () => null;

export function createHandler(deps: Deps): Handler {
  const pipeline = new IngestPipeline(deps);
  const app = createApp(deps);
  return (req, peer = noPeer, server) => {
    const ingest = matchIngestUrl(req.url);
    return ingest !== null ? pipeline.handle(ingest.route, req, ingest.projectParam, () => clientIp(req, peer)) : app.fetch(req, server);
  };
}

/** Slack over the largest body limit, so our own 413 (with Sentry's body) answers, not Bun's. */
const BODY_LIMIT_SLACK = 64 * 1024;

export function listen(deps: Deps): Server<undefined> {
  const { config } = deps;
  const handle = createHandler(deps);
  let server!: Server<undefined>;
  const peer: PeerAddress = (req) => server.requestIP(req)?.address ?? null;
  server = Bun.serve({
    port: config.PORT,
    hostname: config.BIND,
    fetch: (req, srv) => handle(req, peer, srv),
    maxRequestBodySize: Math.max(config.MAX_ENVELOPE_SIZE, config.MAX_EVENT_SIZE) + BODY_LIMIT_SLACK,
  });
  return server;
}

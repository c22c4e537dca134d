/**
 * The POST the forwarder sends with: the http1 client, or fetch when Sentry is reached through
 * an HTTP proxy (fetch honours HTTP_PROXY / HTTPS_PROXY and NO_PROXY; the http1 client does not).
 */
import { createHttp1Client, type PostFn } from "./client.ts";

export interface Poster {
  post: PostFn;
  /** Closes the client's connections. */
  close(): void;
}

export function proxyConfigured(env: Record<string, string | undefined> = process.env): boolean {
  return Boolean(env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy);
}

export function fetchPost(fetchImpl: typeof fetch = fetch): PostFn {
  return async (url, headers, body, signal) => {
    const res = await fetchImpl(url, { method: "POST", headers, body, redirect: "manual", signal });
    return { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) };
  };
}

export function upstreamPoster(maxConnections: number, env: Record<string, string | undefined> = process.env): Poster {
  if (proxyConfigured(env)) return { post: fetchPost(), close() {} };
  return createHttp1Client({ maxConnections });
}

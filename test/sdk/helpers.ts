/**
 * What the real-SDK tests share: cyclops in front of the strict fake Sentry, child processes
 * running real SDKs (bounded and killed on cleanup), the comparison of what an SDK sent with what
 * reached Sentry, and the browser side (a page server on another origin, Chromium).
 */
import { afterAll, beforeAll } from "bun:test";
import { inflateSync } from "node:zlib";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { readFileSync, rmSync } from "node:fs";
import type { Subprocess } from "bun";
import type { Config } from "../../src/config/schema.ts";
import { startFakeSentry, type FakeSentry, type ParsedEnvelope, type Received } from "../helpers/fake-sentry.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import type { CountDocument } from "../../src/stats/count-document.ts";

export const PROJECT_ID = 42;
export const PUBLIC_KEY = "5c1e0a2b3d4f46a8b9c0d1e2f3a4b5c6";
export const SECRET_KEY = "9f8e7d6c5b4a49382716051f4e3d2c1b";
/** Every test of this folder gets this long: real SDKs, child processes and a browser are slow to start. */
export const SDK_TEST_TIMEOUT = 200_000;

export const ROOT = resolve(import.meta.dir, "../..");
export const SDK_DIR = import.meta.dir;
/** Debian's Python, which has sentry_sdk (the pyenv python3 on PATH has not). */
export const PYTHON = "/usr/bin/python3";
export const CHROMIUM = "/usr/bin/chromium";

/** `http://key[:secret]@host:port/project` for a server at `baseUrl`. */
export function dsnFor(baseUrl: string, opts: { secret?: boolean } = {}): string {
  const u = new URL(baseUrl);
  const auth = opts.secret ? `${PUBLIC_KEY}:${SECRET_KEY}` : PUBLIC_KEY;
  return `${u.protocol}//${auth}@${u.host}/${PROJECT_ID}`;
}

/** What /count answers (src/stats/count-document.ts). */
export type CountDoc = CountDocument;

export interface SdkEnv {
  fake: FakeSentry;
  gateway: TestGateway;
  dsn(opts?: { secret?: boolean }): string;
  count(): Promise<CountDoc>;
  /** Waits until cyclops has nothing queued and has delivered everything it accepted. */
  settle(timeoutMs?: number): Promise<CountDoc>;
  stop(): Promise<void>;
}

/** cyclops (flood cut off unless overridden, adaptive pacing) forwarding to a strict fake Sentry. */
export async function startSdkEnv(options: Partial<Config> = {}): Promise<SdkEnv> {
  const fake = await startFakeSentry({ keys: { [PROJECT_ID]: [PUBLIC_KEY] } });
  const gateway = await startTestGateway({
    PROJECT_KEYS: [[PROJECT_ID, PUBLIC_KEY, SECRET_KEY]],
    SENTRY_BASE_URL: fake.url,
    PACING: "adaptive",
    URL_CACHE_EXPIRATION: 0,
    ...options,
  });
  const count = async (): Promise<CountDoc> => (await (await fetch(`${gateway.url}/count`)).json()) as CountDoc;
  return {
    fake,
    gateway,
    dsn: (opts) => dsnFor(gateway.url, opts),
    count,
    async settle(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const doc = await count();
        const accounted = doc.delivered + doc.rejected + doc.expired;
        if (doc.count === 0 && accounted >= doc.processed && fake.inFlight === 0) return doc;
        if (Date.now() > deadline) {
          throw new Error(
            `cyclops did not settle within ${timeoutMs} ms: /count ${JSON.stringify(doc)}; fake attempts ${JSON.stringify(fake.attempts.slice(-5))}; violations ${JSON.stringify(fake.violations)}`,
          );
        }
        await Bun.sleep(20);
      }
    },
    async stop() {
      await gateway.stop();
      await fake.stop();
    },
  };
}

/**
 * The SDK environment of the enclosing describe: started before its tests, stopped (with any SDK
 * child processes) after them. The returned object is filled in by beforeAll.
 */
export function useSdkEnv(options: Partial<Config> = {}): SdkEnv {
  const env = {} as SdkEnv;
  beforeAll(async () => {
    Object.assign(env, await startSdkEnv(options));
  });
  afterAll(async () => {
    killChildren();
    await env.stop?.();
  });
  return env;
}

// ---------------------------------------------------------------- child processes

const children = new Set<Subprocess>();

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, killed after `timeoutMs`; never throws on a non-zero exit. */
export async function runChild(cmd: string[], env: Record<string, string>, timeoutMs = 90_000): Promise<ChildResult> {
  const proc = Bun.spawn(cmd, { cwd: ROOT, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  children.add(proc);
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  try {
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout as ReadableStream).text(), new Response(proc.stderr as ReadableStream).text(), proc.exited]);
    return { code: proc.signalCode ? null : code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    children.delete(proc);
  }
}

/** For afterAll: kills whatever child is still running. */
export function killChildren(): void {
  for (const proc of children) proc.kill("SIGKILL");
  children.clear();
}

let outFiles = 0;
export function outFile(label: string): string {
  return join(tmpdir(), `cyclops-sdk-${label}-${process.pid}-${++outFiles}.json`);
}

/** Reads a child's JSON record file and deletes it; the child's output explains a missing file. */
export function readRecords<T>(file: string, child: ChildResult): T {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new Error(`the SDK child wrote no records (exit ${child.code}):\n${child.stdout}\n${child.stderr}`);
  }
  rmSync(file, { force: true });
  return JSON.parse(text) as T;
}

export interface NodeSdkRun {
  flushed: boolean;
  records: Array<{ body: string; statusCode: number | null; error: string | null }>;
  child: ChildResult;
}

/** Runs test/sdk/node-client.cjs under node with `pkg` (@sentry/node or sentry-node-10). */
export async function runNodeSdk(pkg: string, dsn: string, scenario: "protocol" | "flood", errors: number): Promise<NodeSdkRun> {
  const file = outFile("node");
  const child = await runChild(["node", join(SDK_DIR, "node-client.cjs")], { SDK_PACKAGE: pkg, SENTRY_DSN: dsn, OUT_FILE: file, SCENARIO: scenario, ERRORS: String(errors) });
  return { ...readRecords<Omit<NodeSdkRun, "child">>(file, child), child };
}

export interface RavenNodeRun {
  records: Array<{ eventId: string; headers: Record<string, string>; body: string; statusCode: number | null; error: string | null }>;
  child: ChildResult;
}

export async function runRavenNode(dsn: string, errors: number): Promise<RavenNodeRun> {
  const file = outFile("raven");
  const child = await runChild(["node", join(SDK_DIR, "raven-node-client.cjs")], { SENTRY_DSN: dsn, OUT_FILE: file, ERRORS: String(errors) });
  return { ...readRecords<Omit<RavenNodeRun, "child">>(file, child), child };
}

export interface PythonSdkRun {
  records: Array<{ url: string; headers: Record<string, string>; body: string; statusCode: number | null; response: string | null; error: string | null }>;
  child: ChildResult;
}

export async function runPythonSdk(dsn: string, errors: number): Promise<PythonSdkRun> {
  const file = outFile("python");
  const child = await runChild([PYTHON, join(SDK_DIR, "python_client.py")], { SENTRY_DSN: dsn, OUT_FILE: file, ERRORS: String(errors) });
  return { ...readRecords<Omit<PythonSdkRun, "child">>(file, child), child };
}

// ---------------------------------------------------------------- payloads

export const fromBase64 = (s: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(s, "base64"));
/** raven-node's store body: base64(zlib(JSON)). */
export const decodeRavenBody = (message: string): Uint8Array => new Uint8Array(inflateSync(Buffer.from(message, "base64")));
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);

const keyOf = (b: Uint8Array): string => Buffer.from(b).toString("base64");

/** First line (envelope header) or the start of a body, to name it in a failure message. */
function describeBody(b: Uint8Array): string {
  const s = text(b);
  const nl = s.indexOf("\n");
  return (nl < 0 ? s : s.slice(0, nl)).slice(0, 160);
}

export interface DeliveryReport {
  /** Sent bodies that never reached Sentry. */
  missing: string[];
  /** Sent bodies that reached Sentry more often than they were sent. */
  duplicated: string[];
  /** Bodies Sentry got that no client sent (or altered on the way). */
  unexpected: string[];
}

/**
 * Compares, as multisets of exact bytes, the decoded bodies the clients sent with the decoded
 * bodies the fake Sentry received: equal means every report arrived exactly once, unaltered.
 */
export function compareDeliveries(sent: Uint8Array[], received: Received[]): DeliveryReport {
  const want = new Map<string, { body: Uint8Array; n: number }>();
  for (const b of sent) {
    const k = keyOf(b);
    const e = want.get(k);
    if (e) e.n++;
    else want.set(k, { body: b, n: 1 });
  }
  const got = new Map<string, number>();
  const unexpected: string[] = [];
  for (const r of received) {
    const k = keyOf(r.body);
    if (!want.has(k)) unexpected.push(`${r.endpoint}: ${describeBody(r.body)}`);
    got.set(k, (got.get(k) ?? 0) + 1);
  }
  const missing: string[] = [];
  const duplicated: string[] = [];
  for (const [k, { body, n }] of want) {
    const g = got.get(k) ?? 0;
    if (g < n) missing.push(describeBody(body));
    if (g > n) duplicated.push(`${g}× ${describeBody(body)}`);
  }
  return { missing, duplicated, unexpected };
}

export const NO_DELIVERY_PROBLEMS: DeliveryReport = { missing: [], duplicated: [], unexpected: [] };

const EVENT_ITEMS = new Set(["event", "transaction"]);

/** event_id of the event and transaction items of an envelope (the header's is optional: node 11 omits it on transactions). */
export function envelopeEventIds(env: ParsedEnvelope): string[] {
  const ids: string[] = [];
  for (const item of env.items) {
    if (!EVENT_ITEMS.has(String(item.headers.type))) continue;
    const id = (JSON.parse(text(item.payload)) as { event_id?: unknown }).event_id;
    if (typeof id === "string") ids.push(id);
  }
  return ids;
}

/** Event ids of what Sentry received: store JSON's event_id, envelopes' event and transaction items'. */
export function receivedEventIds(received: Received[]): string[] {
  const ids: string[] = [];
  for (const r of received) {
    if (r.envelope) ids.push(...envelopeEventIds(r.envelope));
    else {
      const id = (r.json as { event_id?: unknown } | undefined)?.event_id;
      if (typeof id === "string") ids.push(id);
    }
  }
  return ids;
}

/** Item types per received envelope, e.g. ["event"], ["session"], ["transaction"]. */
export const itemTypes = (received: Received[]): string[] =>
  received.flatMap((r) => (r.envelope ? r.envelope.items.map((i) => String(i.headers.type)) : [`store:${(r.json as { type?: string }).type ?? "event"}`]));

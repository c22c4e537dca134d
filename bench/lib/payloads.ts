/**
 * Request bodies, built once per benchmark run from bench/payloads/event.json (a ~2.2 KB Python
 * SDK error event: exception with a 10-frame stack trace, tags, contexts, request, user).
 *
 * Templates carry two markers that wrk's Lua (bench/wrk/common.lua) and `render` below fill per
 * request: @@ID@@ (32-hex event id) and @@N@@ (a counter). The counter goes into the exception
 * message *and* the innermost in-app function name: cyclops groups errors by exception type plus
 * in-app frames (message ignored when frames exist), so only a frame change makes each request a
 * distinct error that the flood cut lets through.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PUBLIC_KEY } from "./servers.ts";

type Json = Record<string, any>;

export interface Payloads {
  /** Event template (store body), markers included. */
  eventTemplate: string;
  eventTemplateFile: string;
  envelopeHeaderFile: string;
  gzipFile: string;
  gzipVariants: number;
  /** Mean size of a rendered event body, in bytes. */
  eventBytes: number;
}

export function loadEvent(): Json {
  return JSON.parse(readFileSync("bench/payloads/event.json", "utf8")) as Json;
}

export function eventTemplate(): string {
  const event = loadEvent();
  event.event_id = "@@ID@@";
  const exc = event.exception.values[0];
  exc.value = `'shipping_address' for order @@N@@`;
  const frames = exc.stacktrace.frames as Json[];
  frames[frames.length - 1]!.function = "lookup_field_@@N@@";
  return JSON.stringify(event);
}

export function envelopeHeaderTemplate(): string {
  const event = loadEvent();
  return JSON.stringify({
    event_id: "@@ID@@",
    sent_at: event.timestamp,
    sdk: event.sdk,
    trace: { trace_id: event.contexts.trace.trace_id, public_key: PUBLIC_KEY, environment: event.environment, release: event.release },
  });
}

/** The same rendering as common.lua's, for bodies the runner sends itself. */
export function render(template: string, seed: string, n: number): string {
  const id = seed + n.toString(16).padStart(12, "0");
  return template.replaceAll("@@ID@@", id).replaceAll("@@N@@", String(n));
}

/** 20 hex digits, different on every call: event ids never repeat across runs. */
export function newSeed(): string {
  return crypto.randomUUID().replace(/-/g, "").slice(0, 20);
}

export function buildPayloads(dir: string, gzipVariants: number): Payloads {
  const tpl = eventTemplate();
  const eventTemplateFile = join(dir, "event.template.json");
  writeFileSync(eventTemplateFile, tpl);
  const envelopeHeaderFile = join(dir, "envelope-header.template.json");
  writeFileSync(envelopeHeaderFile, envelopeHeaderTemplate());

  const seed = newSeed();
  const chunks: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (let n = 1; n <= gzipVariants; n++) {
    const gz = Bun.gzipSync(enc.encode(render(tpl, seed, n)));
    chunks.push(enc.encode(`${gz.byteLength}\n`), gz);
  }
  const gzipFile = join(dir, "store.gzip.bin");
  writeFileSync(gzipFile, Buffer.concat(chunks));

  return {
    eventTemplate: tpl,
    eventTemplateFile,
    envelopeHeaderFile,
    gzipFile,
    gzipVariants,
    eventBytes: Buffer.byteLength(render(tpl, seed, 50_000)),
  };
}

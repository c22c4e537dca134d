/**
 * Grouping hash: the flood key of a POSTed event. Events Sentry would put in one issue should
 * collide; events it would keep apart should not. First match wins:
 *
 *   1. `fingerprint` (non-empty array): its entries, each "{{ default }}" replaced by the default
 *      hash below (so ["{{ default }}"] alone equals no fingerprint at all, as in Sentry); an
 *      entry Relay would refuse (null, object, array) voids the fingerprint, as in Relay.
 *   Default hash:
 *   2. exceptions — `exception.values`, `exception` as a list (raven-node 2.x), or
 *      `sentry.interfaces.Exception` (raven-python ≤ 5): per exception, its type plus the frames
 *      of its stacktrace; the exception *value* counts only when no exception has frames (Sentry
 *      ignores the message when the stack decides, and so did the original's hash_for_grouping).
 *      A single exception without frames borrows a top-level stacktrace (raven-python ≤ 5 sent
 *      them side by side; Sentry's normalization joined them).
 *   3. a top-level stacktrace (`stacktrace`, `sentry.interfaces.Stacktrace`) with frames.
 *   4. the message template: `logentry` / `sentry.interfaces.Message` (`message`, else
 *      `formatted`), else the top-level `message` (string or {message, formatted}).
 *   5. `culprit`, else `transaction`.
 *   6. a constant: all such events of a project share one key (as the original did).
 *
 * Frames: only in-app frames when any is marked `in_app: true` (else all); each frame contributes
 * module (else the file's base name, without query string or cache-busting hash) and function —
 * never line/column numbers or absolute path prefixes, which move between deploys and hosts.
 * The input is hashed as it is walked (hash53.ts), never built as a string, into 53 bits: a
 * number, which the flood counters key their map by far more cheaply than a string
 * (throttle/counter-store.ts). Among a million distinct errors the chance that two share a key
 * is about 1 in 18,000.
 */

import { Hash53, hash53, type KeySink } from "./hash53.ts";

type Json = Record<string, unknown>;

function obj(v: unknown): Json | null {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : null;
}

function str(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

// Separators that cannot appear in the JSON strings we read (NUL would need an escape, but keep
// them distinct from any printable character).
const FIELD = 1;
const FRAME = 2;
const PART = 3;
const DEFAULT_MARK = 4;
const COUNT_MARK = 5;

/** Base name without query/fragment and without webpack-style content hashes ("main.3f2a1b9c.js"). */
function normalizeFilename(filename: string): string {
  let f = filename;
  const cut = f.search(/[?#]/);
  if (cut !== -1) f = f.slice(0, cut);
  const slash = Math.max(f.lastIndexOf("/"), f.lastIndexOf("\\"));
  if (slash !== -1) f = f.slice(slash + 1);
  return f.replace(/[.-][0-9a-f]{8,}(?=\.)/gi, "");
}

function writeFrame(frame: Json, out: KeySink): void {
  const module = str(frame.module);
  if (module !== null) out.text(module);
  else {
    const file = str(frame.filename) ?? str(frame.abs_path);
    if (file !== null) out.text(normalizeFilename(file));
  }
  out.char(FIELD);
  const fn = str(frame.function);
  if (fn !== null) out.text(fn);
}

/** The frames of a stacktrace interface (`{frames: [...]}`) when it has any, else null. */
function framesOf(stacktrace: unknown): unknown[] | null {
  const frames = obj(stacktrace)?.frames;
  return Array.isArray(frames) && frames.length > 0 ? frames : null;
}

/** Each frame's module (or file) and function; only the in-app frames when any is marked. */
function writeFrames(frames: unknown[], out: KeySink): void {
  let anyInApp = false;
  for (const f of frames) if (obj(f)?.in_app === true) anyInApp = true;
  for (const f of frames) {
    const frame = obj(f);
    if (frame === null || (anyInApp && frame.in_app !== true)) continue;
    writeFrame(frame, out);
    out.char(FRAME);
  }
}

/** The exception list of any known shape. */
function exceptionValues(event: Json): Json[] | null {
  const raw = event.exception ?? event["sentry.interfaces.Exception"];
  const list = Array.isArray(raw) ? raw : obj(raw)?.values;
  if (Array.isArray(list)) {
    const values: Json[] = [];
    for (const v of list) {
      const o = obj(v);
      if (o !== null) values.push(o);
    }
    return values.length > 0 ? values : null;
  }
  // raven-python ≤ 2: a single exception object {type, value, module}.
  const single = obj(raw);
  return single !== null && (str(single.type) !== null || str(single.value) !== null) ? [single] : null;
}

function writeExceptions(event: Json, values: Json[], out: KeySink): void {
  // Old clients put the stack beside a single exception; Sentry's normalization moved it inside.
  const borrowed = values.length === 1 && framesOf(values[0]!.stacktrace) === null ? framesOf(topStacktrace(event)) : null;
  let withStack = borrowed !== null;
  for (const v of values) if (framesOf(v.stacktrace) !== null) withStack = true;
  for (const v of values) {
    const type = str(v.type);
    if (type !== null) out.text(type);
    out.char(FIELD);
    if (withStack) {
      const frames = framesOf(v.stacktrace) ?? borrowed;
      if (frames !== null) writeFrames(frames, out);
    } else {
      const value = str(v.value);
      if (value !== null) out.text(value);
    }
    out.char(PART);
  }
}

/** `{message, formatted}` objects: the template first, so parameters do not split a group. */
function templateOf(v: unknown): string | null {
  if (typeof v === "string") return v !== "" ? v : null;
  const o = obj(v);
  return o === null ? null : (str(o.message) ?? str(o.formatted));
}

/**
 * `logentry` and its legacy alias `sentry.interfaces.Message` before the top-level `message`, which
 * old clients filled with the formatted text (Relay moves `message` into logentry only when
 * logentry is absent).
 */
function messageKey(event: Json): string | null {
  return templateOf(event.logentry) ?? templateOf(event["sentry.interfaces.Message"]) ?? templateOf(event.message);
}

function topStacktrace(event: Json): unknown {
  return event.stacktrace ?? event["sentry.interfaces.Stacktrace"];
}

/** The default (non-fingerprint) grouping input, prefixed by the kind of evidence it rests on. */
function writeDefault(event: Json, out: KeySink): void {
  const exceptions = exceptionValues(event);
  if (exceptions !== null) {
    out.char(0x65 /* e */);
    writeExceptions(event, exceptions, out);
    return;
  }
  const frames = framesOf(topStacktrace(event));
  if (frames !== null) {
    out.char(0x73 /* s */);
    writeFrames(frames, out);
    return;
  }
  const message = messageKey(event);
  if (message !== null) {
    out.char(0x6d /* m */);
    out.text(message);
    return;
  }
  const culprit = str(event.culprit) ?? str(event.transaction);
  if (culprit !== null) {
    out.char(0x63 /* c */);
    out.text(culprit);
    return;
  }
  out.char(0x2d /* - */);
}

const DEFAULT_ENTRY = /^\{\{\s*default\s*\}\}$/;

/** Entries past this many are not read: a fingerprint is a handful of strings, not a body's worth. */
export const MAX_FINGERPRINT_ENTRIES = 64;
/** Characters of one entry that count (Relay trims strings in normalization; 200 for a tag). */
const MAX_ENTRY_CHARS = 1024;

/**
 * A fingerprint entry as Relay's `Fingerprint` reads it: strings as they are, integers and whole
 * floats as integers, booleans as "True"/"False"; null, objects and arrays make the whole
 * fingerprint invalid (Relay drops it and groups by default). Never stringifies a nested value,
 * which on a 100,000-deep entry overflowed the stack after half a second (issue 18).
 */
function fingerprintEntry(entry: unknown): string | null {
  if (typeof entry === "string") return entry.length > MAX_ENTRY_CHARS ? entry.slice(0, MAX_ENTRY_CHARS) : entry;
  if (typeof entry === "number") return Number.isFinite(entry) && Math.abs(entry) < 2 ** 53 ? String(Math.trunc(entry)) : null;
  if (typeof entry === "boolean") return entry ? "True" : "False";
  return null;
}

/**
 * Writes an event's grouping input to `out`: its fingerprint with each "{{ default }}" replaced
 * by the default input, or the default input alone (no fingerprint, an invalid one, or one of
 * "{{ default }}" entries only).
 */
export function writeGroupingKey(event: Json, out: KeySink): void {
  const fingerprint = event.fingerprint;
  if (!Array.isArray(fingerprint) || fingerprint.length === 0) return writeDefault(event, out);
  const count = Math.min(fingerprint.length, MAX_FINGERPRINT_ENTRIES);
  // Each entry as text, null for "{{ default }}": all are read before anything is written, since
  // one invalid entry, or none custom, means the default input alone.
  const entries: (string | null)[] = [];
  let custom = false;
  for (let i = 0; i < count; i++) {
    const text = fingerprintEntry(fingerprint[i]);
    if (text === null) return writeDefault(event, out);
    const isDefault = DEFAULT_ENTRY.test(text);
    custom ||= !isDefault;
    entries.push(isDefault ? null : text);
  }
  if (!custom) return writeDefault(event, out);
  out.char(0x66 /* f */);
  for (const text of entries) {
    out.char(PART);
    if (text === null) {
      out.char(DEFAULT_MARK);
      writeDefault(event, out);
    } else out.text(text);
  }
  if (fingerprint.length > count) {
    out.char(PART);
    out.char(COUNT_MARK);
    out.text(String(fingerprint.length));
  }
}

/** One hasher for every event: the hot path allocates nothing for grouping. */
const hasher = new Hash53();

/**
 * A stable hash under which events Sentry would group together collide. `seed` keeps the keys of
 * different projects apart (the pipeline passes the project id).
 */
export function groupingHash(event: Record<string, unknown>, seed = 0): number {
  writeGroupingKey(event, hasher.reset(seed));
  return hasher.value();
}

/** Query parameters that name the client software, not the error: dropped from GET flood keys. */
const VOLATILE_PARAMS = new Set(["sentry_client", "sentry_version", "sentry_secret", "sentry_timestamp"]);

/**
 * The flood key of a GET store request. Like the original (the full URL, sentry_data included),
 * only identical reports share a counter; unlike it, the parameters that describe the SDK rather
 * than the error (sentry_client, sentry_version, sentry_secret, sentry_timestamp) are dropped, so
 * one error from two SDK versions still counts once. Parameter order is kept: one client always
 * writes the same order, and sorting would cost a split of a body-sized string. sentry_key stays,
 * keeping projects apart on the legacy /api/store/ route. Hashed, so keys stay short.
 */
export function getFloodKey(pathAndQuery: string): number {
  const q = pathAndQuery.indexOf("?");
  if (q === -1) return hash53(pathAndQuery, 0);
  let key = pathAndQuery.slice(0, q + 1);
  let start = q + 1;
  let first = true;
  while (start <= pathAndQuery.length) {
    let end = pathAndQuery.indexOf("&", start);
    if (end === -1) end = pathAndQuery.length;
    const eq = pathAndQuery.indexOf("=", start);
    const name = pathAndQuery.slice(start, eq === -1 || eq > end ? end : eq);
    if (end > start && !VOLATILE_PARAMS.has(name)) {
      key += (first ? "" : "&") + pathAndQuery.slice(start, end);
      first = false;
    }
    start = end + 1;
  }
  return hash53(key, 0);
}

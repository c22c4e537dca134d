/**
 * The Lua scripts, imported as text so `bun build --compile` embeds them in the binary. Each
 * script's header documents its KEYS, ARGV and return values.
 */
import { createHash } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import ackLua from "./ack-5.lua" with { type: "text" };
import countPushBatchLua from "./count-push-batch.lua" with { type: "text" };
import incrLua from "./incr-1.lua" with { type: "text" };
import countLua from "./include-count.lua" with { type: "text" };
import pushItemLua from "./include-push.lua" with { type: "text" };
import putBackLua from "./include-put-back.lua" with { type: "text" };
import totalsLua from "./include-totals.lua" with { type: "text" };
import pushLua from "./push-4.lua" with { type: "text" };
import releaseLua from "./release-5.lua" with { type: "text" };
import takeLua from "./take-6.lua" with { type: "text" };

/** A single Redis or a Redis Cluster: the scripts run the same on both. */
export type RedisClient = Redis | Cluster;

type Arg = string | number | Buffer;
type ScriptFn = (...keysAndArgs: Arg[]) => Promise<unknown>;

/**
 * A script registered on a client with ioredis's defineCommand, which runs it by SHA (EVALSHA)
 * and falls back to EVAL when Redis does not know it yet (first use, restart, SCRIPT FLUSH), also
 * inside auto-pipelined batches. On a cluster the same holds per master: a master promoted by a
 * failover, or one that received a slot by resharding, answers NOSCRIPT once and gets the text.
 */
export class Script {
  /** The command name on the client; carries a hash of the text, so versions never collide. */
  readonly command: string;

  constructor(
    readonly name: string,
    /** null: a variable number of keys (batches), sent with each call. */
    readonly numberOfKeys: number | null,
    readonly lua: string,
  ) {
    this.command = `cyclops_${name}_${createHash("sha1").update(lua).digest("hex").slice(0, 8)}`;
  }

  /** Runs the script; replies as strings/numbers. */
  run(client: RedisClient, keys: string[], args: Arg[]): Promise<unknown> {
    return command(client, this.command)(...this.keyCount(keys), ...keys, ...args);
  }

  /** Runs the script; bulk replies as Buffers (binary item bodies). */
  runBuffer(client: RedisClient, keys: string[], args: Arg[]): Promise<unknown> {
    return command(client, `${this.command}Buffer`)(...this.keyCount(keys), ...keys, ...args);
  }

  /** ioredis wants the key count first when the command was defined without one. */
  private keyCount(keys: string[]): number[] {
    if (this.numberOfKeys === null) return [keys.length];
    if (keys.length !== this.numberOfKeys) throw new Error(`Redis script ${this.name} takes ${this.numberOfKeys} keys, got ${keys.length}`);
    return [];
  }

  /**
   * Defines the script on a client. It must happen once, before the client sends anything:
   * with auto-pipelining, ioredis copies the defined scripts into each tick's pipeline when it
   * creates it, so a script defined lazily in the middle of a tick is missing from that pipeline
   * and the batch fails (and its callbacks go out of step).
   */
  define(client: RedisClient): void {
    client.defineCommand(this.command, this.numberOfKeys === null ? { lua: this.lua } : { numberOfKeys: this.numberOfKeys, lua: this.lua });
  }
}

function command(client: RedisClient, method: string): ScriptFn {
  const fn = (client as unknown as Record<string, ScriptFn | undefined>)[method];
  if (!fn) throw new Error(`Redis script ${method} is not defined on this client (defineScripts not called)`);
  return fn.bind(client);
}

/** Scripts get the shared helpers they call (include-*.lua) prepended. */
const including = (...parts: string[]): string => parts.join("\n");

export const SCRIPTS = {
  push: new Script("push", 4, including(pushItemLua, pushLua)),
  take: new Script("take", 6, including(putBackLua, totalsLua, takeLua)),
  ack: new Script("ack", 5, including(totalsLua, ackLua)),
  release: new Script("release", 5, including(putBackLua, releaseLua)),
  incr: new Script("incr", 1, including(countLua, incrLua)),
  countPushBatch: new Script("countPushBatch", null, including(countLua, pushItemLua, totalsLua, countPushBatchLua)),
};

/** Defines every script on a new client, before its first command. */
export function defineScripts(client: RedisClient): void {
  for (const script of Object.values(SCRIPTS)) script.define(client);
}

/** Negative results of push-4.lua and count-push-batch.lua. */
export const PUSH_FULL_ITEMS = -1;
export const PUSH_FULL_BYTES = -2;

/** Window length in whole milliseconds (at least 1), as the counting scripts take it. */
export const windowMs = (windowSeconds: number): number => Math.max(1, Math.round(windowSeconds * 1000));

/** Runs `fn`, which must throw a ProtocolError, and returns what the client would be answered. */
import { expect } from "bun:test";
import { ProtocolError } from "../../src/protocol/errors.ts";

export function fails(fn: () => unknown): { status: number; detail: string; causes: string[] } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    const err = e as ProtocolError;
    return { status: err.status, detail: err.detail, causes: err.causes };
  }
  throw new Error("expected a ProtocolError");
}

import { describe, expect, test } from "bun:test";
import { BodyBudget } from "../../src/admission/body-budget.ts";
import { COLLECTED_BODY_BYTES, RequestBody } from "../../src/server/body-reader.ts";

describe("RequestBody.release", () => {
  const read = (budget: BodyBudget, bytes: number): { body: RequestBody; buffer: ArrayBuffer } => {
    const body = new RequestBody(budget, "10.0.0.1");
    body.take(bytes);
    const buffer = new ArrayBuffer(bytes);
    body.received = new Uint8Array(buffer);
    return { body, buffer };
  };

  test("gives the budget back, and frees a large body's memory at once (detached)", () => {
    const budget = new BodyBudget(1 << 20);
    const { body, buffer } = read(budget, COLLECTED_BODY_BYTES + 1);
    expect(budget.bytes).toBe(COLLECTED_BODY_BYTES + 1);
    body.release();
    expect(budget.bytes).toBe(0);
    expect(budget.trackedClients).toBe(0);
    expect(buffer.detached).toBe(true);
    expect(body.received).toBeNull();
  });

  test("leaves a small body to the collector: the budget is given back, the bytes untouched", () => {
    const budget = new BodyBudget(1 << 20);
    const { body, buffer } = read(budget, 2200);
    body.release();
    expect(budget.bytes).toBe(0);
    expect(buffer.detached).toBe(false);
    expect(body.received).toBeNull();
  });

  test("an inflated copy is detached whatever its size; releasing twice gives nothing back twice", () => {
    const budget = new BodyBudget(1 << 20);
    const { body } = read(budget, 100);
    const inflated = new ArrayBuffer(300);
    body.take(300);
    body.decoded = new Uint8Array(inflated);
    body.release();
    body.release();
    expect(inflated.detached).toBe(true);
    expect(budget.bytes).toBe(0);
  });
});

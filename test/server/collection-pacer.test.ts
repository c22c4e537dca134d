import { describe, expect, test } from "bun:test";
import { CollectionPacer } from "../../src/server/collection-pacer.ts";

describe("CollectionPacer", () => {
  test("asks for a collection on every n-th request, and only then", () => {
    let collections = 0;
    const pacer = new CollectionPacer(3, () => collections++);
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      pacer.tick();
      seen.push(collections);
    }
    expect(seen).toEqual([0, 0, 1, 1, 1, 2, 2, 2, 3, 3]);
  });

  test("every = 1 collects on each request", () => {
    let collections = 0;
    const pacer = new CollectionPacer(1, () => collections++);
    for (let i = 0; i < 4; i++) pacer.tick();
    expect(collections).toBe(4);
  });

  test("the default collection is Bun's young-generation one and does not throw", () => {
    const pacer = new CollectionPacer(1);
    expect(() => pacer.tick()).not.toThrow();
  });
});

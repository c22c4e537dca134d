import { describe, expect, test } from "bun:test";
import { EXPLORE_EVERY, type PageKind, PageKindChooser } from "../../src/storage/page-kind.ts";

/** Runs `chunks` chunks through the chooser, each costing what `cost` says for its kind; the kinds chosen. */
function run(chooser: PageKindChooser, chunks: number, cost: (kind: PageKind, i: number) => number): PageKind[] {
  const kinds: PageKind[] = [];
  for (let i = 0; i < chunks; i++) {
    const kind = chooser.next();
    kinds.push(kind);
    chooser.record(kind, cost(kind, i));
  }
  return kinds;
}
const count = (kinds: PageKind[], kind: PageKind) => kinds.filter((k) => k === kind).length;

describe("PageKindChooser", () => {
  test("tries each kind once, then keeps to the cheaper, looking at the other once every EXPLORE_EVERY chunks", () => {
    const chooser = new PageKindChooser();
    const kinds = run(chooser, 10 * EXPLORE_EVERY, (k) => (k === "huge" ? 13 : 2.5));
    expect(kinds.slice(0, 2)).toEqual(["small", "huge"]);
    expect(count(kinds.slice(2), "huge")).toBe(10);
    expect(chooser.preferred).toBe("small");
  });

  test("huge pages win where they are cheaper", () => {
    const chooser = new PageKindChooser();
    const kinds = run(chooser, 10 * EXPLORE_EVERY, (k) => (k === "huge" ? 0.9 : 2.5));
    expect(count(kinds.slice(2), "small")).toBe(10);
    expect(chooser.preferred).toBe("huge");
  });

  test("follows the host when huge pages turn dear (the easy ones used up) and again when they turn cheap", () => {
    const chooser = new PageKindChooser();
    const dearAfter = 3 * EXPLORE_EVERY;
    const cheapAfter = 6 * EXPLORE_EVERY;
    const cost = (k: PageKind, i: number) => (k === "small" ? 2.5 : i >= dearAfter && i < cheapAfter ? 13 : 0.9);
    const kinds = run(chooser, 9 * EXPLORE_EVERY, cost);
    // Two dear huge chunks turn the mean; then only the looks every EXPLORE_EVERY are huge.
    expect(count(kinds.slice(dearAfter + 2, cheapAfter), "huge")).toBeLessThanOrEqual(3);
    // Cheap again: noticed at the next look, huge from then on.
    expect(count(kinds.slice(cheapAfter + EXPLORE_EVERY + 1), "small")).toBeLessThanOrEqual(2);
    expect(chooser.preferred).toBe("huge");
  });

  test("a forced kind is always given, whatever it costs", () => {
    const chooser = new PageKindChooser("huge");
    const kinds = run(chooser, 3 * EXPLORE_EVERY, (k) => (k === "huge" ? 13 : 1));
    expect(count(kinds, "small")).toBe(0);
    expect(chooser.preferred).toBe("huge");
  });
});

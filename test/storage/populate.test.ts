import { expect, test } from "bun:test";
import { populatePages } from "../../src/storage/populate.ts";

const linux = process.platform === "linux";

test.if(linux)("a populated buffer keeps its contents and stays writable", () => {
  const buffer = new Uint8Array(1 << 20);
  buffer[0] = 7;
  buffer[buffer.length - 1] = 9;
  expect(populatePages(buffer)).toBe(true);
  expect(buffer[0]).toBe(7);
  expect(buffer[buffer.length - 1]).toBe(9);
  expect(buffer.subarray(1, -1).every((b) => b === 0)).toBe(true);
  buffer.fill(3);
  expect(buffer.every((b) => b === 3)).toBe(true);
});

test("less than one whole page is left alone", () => {
  expect(populatePages(new Uint8Array(100))).toBe(false);
});

test.if(linux)("writing a populated buffer takes almost no page faults; a plain one takes one per page", () => {
  const run = Bun.spawnSync([process.execPath, "test/fixtures/populate-faults.ts"], { env: { ...process.env, MIMALLOC_PURGE_DELAY: "0" } });
  expect(run.exitCode).toBe(0);
  const r = JSON.parse(run.stdout.toString()) as { plain: { faults: number }; populated: { faults: number; populated: boolean }; pages: number };
  expect(r.populated.populated).toBe(true);
  expect(r.plain.faults).toBeGreaterThan(r.pages / 2);
  expect(r.populated.faults).toBeLessThan(r.pages / 20);
});

test.if(linux)("CYCLOPS_POPULATE_SLABS=0 turns it off", () => {
  const run = Bun.spawnSync([process.execPath, "-e", 'import { populatePages } from "./src/storage/populate.ts"; console.log(populatePages(new Uint8Array(1 << 20)));'], {
    env: { ...process.env, CYCLOPS_POPULATE_SLABS: "0" },
  });
  expect(run.stdout.toString().trim()).toBe("false");
});

/**
 * The release files from `npm run release` (CYCLOPS_RELEASE_DIR=dist/release, set by
 * `npm run test:release`): SHA256SUMS verifies and lists every file; each file is an executable
 * for its platform (ELF machine, and the musl one's interpreter is musl's); the x64 one prints its
 * version and commit, writes a config and serves. The arm64 one runs under Debian's
 * qemu-user-static (with libc6-arm64-cross's libraries) and the musl one under Debian's musl,
 * where those are installed; otherwise those runs are skipped with a message saying why.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { tempDir } from "../helpers/gateway.ts";

const dir = process.env.CYCLOPS_RELEASE_DIR ? resolve(import.meta.dir, "../..", process.env.CYCLOPS_RELEASE_DIR) : null;
if (!dir) console.warn("[skip] release tests: set CYCLOPS_RELEASE_DIR (npm run release && npm run test:release)");

const file = (platform: string) => join(dir!, `cyclops-${pkg.version}-${platform}`);

/** e_machine and the PT_INTERP path of a 64-bit little-endian ELF file. */
function elfInfo(bytes: Uint8Array): { machine: number; interpreter: string | null } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== 0x7f454c46 || bytes[4] !== 2 || bytes[5] !== 1) throw new Error("not a 64-bit little-endian ELF file");
  const machine = view.getUint16(18, true);
  const phoff = Number(view.getBigUint64(32, true));
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (view.getUint32(ph, true) !== 3) continue; // PT_INTERP
    const offset = Number(view.getBigUint64(ph + 8, true));
    const size = Number(view.getBigUint64(ph + 32, true));
    return { machine, interpreter: new TextDecoder().decode(bytes.subarray(offset, offset + size)).replace(/\0+$/, "") };
  }
  return { machine, interpreter: null };
}

const EM_X86_64 = 62;
const EM_AARCH64 = 183;

async function run(cmd: string[], cwd?: string) {
  const proc = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin" } });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

const VERSION_LINE = new RegExp(`^${pkg.version.replaceAll(".", "\\.")} \\(commit [0-9a-f]{12}(-dirty)?\\)$`);

describe.skipIf(!dir)("release files", () => {
  let server: ReturnType<typeof Bun.spawn> | null = null;
  afterAll(async () => {
    server?.kill("SIGTERM");
    await server?.exited;
  });

  test("SHA256SUMS lists every file and verifies (sha256sum -c)", async () => {
    const listed = readFileSync(join(dir!, "SHA256SUMS"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(/\s+/)[1]);
    const present = readdirSync(dir!)
      .filter((f) => f.startsWith("cyclops-"))
      .sort();
    expect(listed.sort()).toEqual(present);
    for (const platform of ["linux-x64", "linux-arm64", "linux-x64-musl"]) expect(present).toContain(`cyclops-${pkg.version}-${platform}`);
    const check = await run(["sha256sum", "-c", "SHA256SUMS"], dir!);
    expect(check.code).toBe(0);
    expect(
      check.stdout
        .trim()
        .split("\n")
        .every((l) => l.endsWith(": OK")),
    ).toBe(true);
  });

  test("each file is an executable for its platform", () => {
    const x64 = elfInfo(readFileSync(file("linux-x64")));
    expect(x64.machine).toBe(EM_X86_64);
    expect(x64.interpreter).toBe("/lib64/ld-linux-x86-64.so.2");
    const arm = elfInfo(readFileSync(file("linux-arm64")));
    expect(arm.machine).toBe(EM_AARCH64);
    expect(arm.interpreter).toBe("/lib/ld-linux-aarch64.so.1");
    const musl = elfInfo(readFileSync(file("linux-x64-musl")));
    expect(musl.machine).toBe(EM_X86_64);
    expect(musl.interpreter).toBe("/lib/ld-musl-x86_64.so.1");
  });

  test("x64: --version names the version and commit; init, serve and the healthcheck, alone in a folder", async () => {
    const version = await run([file("linux-x64"), "--version"]);
    expect(version.stdout.trim()).toMatch(VERSION_LINE);
    const work = tempDir("cyclops-release-");
    const init = await run([file("linux-x64"), "init"], work);
    expect(init.code).toBe(0);
    writeFileSync(join(work, "c.json"), init.stdout);
    server = Bun.spawn([file("linux-x64"), "serve", "-c", "c.json", "-p", "0", "-b", "127.0.0.1"], {
      cwd: work,
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: "/usr/bin:/bin" },
    });
    const reader = (server.stderr as ReadableStream<Uint8Array>).getReader();
    let err = "";
    let port = 0;
    while (!port) {
      const { value, done } = await reader.read();
      if (done) break;
      err += new TextDecoder().decode(value);
      port = Number(/\(port (\d+)\)/.exec(err)?.[1] ?? 0);
    }
    expect(port).toBeGreaterThan(0);
    expect(await (await fetch(`http://127.0.0.1:${port}/healthcheck`)).text()).toBe("WORKING");
  });

  const qemu = ["/usr/bin/qemu-aarch64-static", "/usr/bin/qemu-aarch64"].find(existsSync);
  const armLibs = "/usr/aarch64-linux-gnu";
  const armRuns = qemu && existsSync(join(armLibs, "lib/ld-linux-aarch64.so.1"));
  if (!armRuns) console.warn("[skip] arm64 run: needs Debian's qemu-user-static and libc6-arm64-cross (.ci/services.sh installs them)");
  test.skipIf(!armRuns)(
    "arm64 under qemu: --version and init",
    async () => {
      const version = await run([qemu!, "-L", armLibs, file("linux-arm64"), "--version"]);
      expect(version.stdout.trim()).toMatch(VERSION_LINE);
      const init = await run([qemu!, "-L", armLibs, file("linux-arm64"), "init", "--dsn", "https://0123456789abcdef0123456789abcdef@sentry.example.com/3"]);
      expect(init.code).toBe(0);
      expect(JSON.parse(init.stdout).PROJECT_KEYS).toEqual([[3, "0123456789abcdef0123456789abcdef", null]]);
    },
    60_000,
  );

  // Bun's musl build needs musl builds of libstdc++ and libgcc (Alpine: apk add libstdc++), which
  // Debian does not package: with Debian's musl alone the loader stops at libstdc++.so.6.
  const muslRuns = existsSync("/lib/ld-musl-x86_64.so.1") && ["/lib/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/usr/local/musl/lib/libstdc++.so.6"].some(existsSync);
  if (!muslRuns) console.warn("[skip] musl run: needs musl and a musl libstdc++ (Alpine's); Debian ships musl without it");
  test.skipIf(!muslRuns)("musl: --version", async () => {
    const version = await run([file("linux-x64-musl"), "--version"]);
    expect(version.stdout.trim()).toMatch(VERSION_LINE);
  });

  const readelf = existsSync("/usr/bin/readelf");
  if (!readelf) console.warn("[skip] musl libraries: readelf (binutils) is not installed");
  test.skipIf(!readelf)("the musl file asks for musl's C library and nothing from glibc", async () => {
    const needed = (await run(["readelf", "-d", file("linux-x64-musl")])).stdout.match(/\[([^\]]+)\]/g) ?? [];
    expect(needed).toContain("[libc.musl-x86_64.so.1]");
    expect(needed.some((n) => n.includes("libc.so.6"))).toBe(false);
  });
});

/**
 * deploy/cyclops.service passes `systemd-analyze verify` (where systemd-analyze exists; .ci/services.sh
 * installs Debian's systemd for it) and scores as exposed no more than "OK" in its offline security
 * review. verify insists the ExecStart binary exists, so it checks a copy whose ExecStart names a
 * stand-in executable; everything else is the file as shipped.
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/gateway.ts";

const UNIT = join(import.meta.dir, "../../deploy/cyclops.service");
const analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].find(existsSync);
if (!analyze) console.warn("[skip] systemd unit verification: systemd-analyze is not installed (Debian: apt-get install systemd)");

function copyWithStandIn(): string {
  const dir = tempDir("cyclops-unit-");
  const standIn = join(dir, "cyclops");
  writeFileSync(standIn, "#!/bin/sh\nexit 0\n");
  chmodSync(standIn, 0o755);
  const text = readFileSync(UNIT, "utf8");
  expect(text).toContain("ExecStart=/usr/local/bin/cyclops serve -c /etc/cyclops/cyclops.json");
  writeFileSync(join(dir, "cyclops.service"), text.replace("ExecStart=/usr/local/bin/cyclops ", `ExecStart=${standIn} `));
  return join(dir, "cyclops.service");
}

const run = (args: string[]) => {
  const p = Bun.spawnSync([analyze!, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: p.stdout.toString() + p.stderr.toString() };
};

describe("deploy/cyclops.service", () => {
  test("is hardened: own user, no new privileges, read-only system, a state directory, no reload it lacks", () => {
    const text = readFileSync(UNIT, "utf8");
    for (const line of ["DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=cyclops", "CapabilityBoundingSet=\n"]) {
      expect(text).toContain(line);
    }
    // cyclops has no SIGHUP reload, so the unit must not pretend it has one
    expect(text).not.toMatch(/^ExecReload=/m);
  });

  test.skipIf(!analyze)("systemd-analyze verify passes", () => {
    const r = run(["verify", copyWithStandIn()]);
    expect(r.out).toBe("");
    expect(r.code).toBe(0);
  });

  test.skipIf(!analyze)("the offline security review rates its exposure OK or better", () => {
    const r = run(["security", "--offline=yes", copyWithStandIn()]);
    if (r.out.includes("unrecognized option")) return console.warn("[skip] this systemd-analyze has no --offline");
    const m = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(r.out);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(3);
  });
});

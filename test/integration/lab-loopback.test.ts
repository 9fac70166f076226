// Without namespaces (not root, or no iproute2) the lab falls back to loopback addresses.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HAPD, run } from "./helpers.ts";

describe.skipIf(!existsSync(HAPD))("lab on loopback addresses", () => {
  it("forms one quorate view of three on 127.0.0.1, then --down removes it", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "hapd-lb-")), "lab");
    const up = run([HAPD, "demo", "--loopback", "--dir", dir]);
    try {
      expect(up.code, up.stdout + up.stderr).toBe(0);
      expect(up.stdout).toMatch(/Lab is up \(loopback mode\)/);
      const s = JSON.parse(run([HAPD, "status", "--json", "--node", "host-b", "--lab-dir", dir]).stdout);
      expect(s.view.members.sort()).toEqual(["arb", "host-a", "host-b"]);
      expect(s.quorum.quorate).toBe(true);
    } finally {
      const down = run([HAPD, "demo", "--down", "--dir", dir]);
      expect(down.stdout).toMatch(/removed/);
    }
    expect(existsSync(dir)).toBe(false);
  });
});

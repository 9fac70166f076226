// The level-1 device's failure modes: each is a failed attempt with a reason, never a success.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSocket } from "node:dgram";
import { describe, expect, it } from "vitest";
import { ipmiFenceOff } from "./ipmi-device.ts";

const dir = mkdtempSync(join(tmpdir(), "hapd-fencedev-"));
const pw = join(dir, "pw");
writeFileSync(pw, "s3cret\n", { mode: 0o600 });

async function silentPort(): Promise<{ port: number; close: () => void }> {
  // A bound socket that never answers: a BMC that is down or firewalled.
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  return { port: s.address().port, close: () => s.close() };
}

const base = { address: "127.0.0.1", username: "admin", password_file: pw, cipher: 17 as const, privilege: "administrator" as const, power_timeout_ms: 1000, attempt_timeout_ms: 1200 };

describe("IPMI fence device", () => {
  it("an unreachable BMC fails the attempt within its budget, naming the BMC", async () => {
    const bmc = await silentPort();
    try {
      await expect(ipmiFenceOff({ ...base, port: bmc.port })).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${bmc.port}`));
    } finally {
      bmc.close();
    }
  });

  it("refuses a password file that others can read, before contacting the BMC", async () => {
    const loose = join(dir, "loose");
    writeFileSync(loose, "s3cret\n", { mode: 0o644 });
    await expect(ipmiFenceOff({ ...base, port: 9, password_file: loose })).rejects.toThrow(/mode 644 lets others read a BMC password/);
  });
});

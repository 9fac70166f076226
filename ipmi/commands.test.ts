import { describe, expect, it } from "vitest";
import { fromHex } from "./bytes.ts";
import {
  decodeChannelAuthCapabilities,
  decodeChassisStatus,
  decodeDeviceId,
  decodeSetWatchdogRequest,
  decodeWatchdogState,
  encodeCipherSuiteRecords,
  encodeDeviceId,
  encodeWatchdogState,
  parseCipherSuiteRecords,
  setWatchdogRequest,
} from "./commands.ts";
import { decodeOpenSessionResponse, decodeRakp2, encodeOpenSessionRequest, decodeOpenSessionRequest, encodeRakp1, decodeRakp1 } from "./rakp.ts";

describe("replies as ipmi_sim 2.0.33 sends them (peers/ipmi/README.md)", () => {
  it("reads Get Channel Authentication Capabilities 01 84 04 03 00 00 00 00", () => {
    const caps = decodeChannelAuthCapabilities(fromHex("0184040300000000"));
    expect(caps.ok && caps.value).toMatchObject({ channel: 1, v20_extended: true, auth_md5: true, auth_none: false, non_null_usernames: true, supports_v15: true, supports_v20: true });
  });

  it("accepts a refused Open Session that carries only the tag and status", () => {
    const r = decodeOpenSessionResponse(fromHex("0104"));
    expect(r.ok && r.value).toMatchObject({ tag: 1, status: 4, algorithms: null });
  });

  it("accepts a Get Watchdog Timer reply of 6 bytes (no present countdown)", () => {
    const w = decodeWatchdogState(fromHex("44310100e803"));
    expect(w.ok && w.value).toMatchObject({ timer_use: 4, running: true, timeout_action: "hard_reset", pretimeout_interrupt: "messaging", pretimeout_interval_s: 1, initial_countdown_ms: 100_000, present_countdown_ms: null });
  });

  it("reads only the known fields of a reply with trailing bytes", () => {
    // ipmi_sim's Set Watchdog reply has ~35 garbage bytes; the client checks only its completion
    // code (see the ipmi_sim integration test). Decoders in general ignore what follows.
    const w = decodeWatchdogState(fromHex("0402000000000a00" + "ee".repeat(35)));
    expect(w.ok && w.value.present_countdown_ms).toBe(1000);
  });

  it("reads Get Device ID of mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02", () => {
    const d = decodeDeviceId(fromHex("0003090802 9f 911200 020f 00000000".replace(/ /g, "")));
    expect(d.ok && d.value).toMatchObject({ device_id: 0, device_revision: 3, firmware_major: 9, firmware_minor_bcd: 8, ipmi_version_major: 2, manufacturer_id: 0x1291, product_id: 0xf02 });
  });

  it("parses ipmi_sim's cipher suite list (suites 0-14) and ours", () => {
    const table = fromHex(
      "c000004080c001014080c002014180c003014181c004014182c005014183c006024080c007024280c008024281c009024282c00a024283c00b024380c00c024381c00d024382c00e024383",
    );
    expect(parseCipherSuiteRecords(table).map((r) => r.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(parseCipherSuiteRecords(table)[3]).toMatchObject({ id: 3, auth: 1, integrity: 1, confidentiality: 1 });
    const ours = encodeCipherSuiteRecords([{ id: 17, auth: 3, integrity: 4, confidentiality: 1 }]);
    expect(parseCipherSuiteRecords(ours)).toEqual([{ id: 17, auth: 3, integrity: 4, confidentiality: 1, oem_iana: null }]);
  });
});

describe("command codecs round-trip", () => {
  it("Set Watchdog Timer", () => {
    const settings = {
      timer_use: 4,
      dont_stop: true,
      dont_log: false,
      timeout_action: "power_down" as const,
      pretimeout_interrupt: "messaging" as const,
      pretimeout_interval_s: 1,
      expiration_flags_clear: 0x10,
      initial_countdown_ms: 3000,
    };
    const back = decodeSetWatchdogRequest(setWatchdogRequest(settings).data);
    expect(back.ok && back.value).toEqual(settings);
  });

  it("Get Watchdog Timer and Get Device ID", () => {
    const state = { timer_use: 4, running: false, dont_log: true, timeout_action: "power_cycle" as const, pretimeout_interrupt: "none" as const, pretimeout_interval_s: 0, expiration_flags: 0x10, initial_countdown_ms: 600, present_countdown_ms: 300 };
    const back = decodeWatchdogState(encodeWatchdogState(state));
    expect(back.ok && back.value).toEqual(state);
    const device = { device_id: 32, device_revision: 1, provides_sdrs: false, firmware_major: 1, firmware_minor_bcd: 0x23, device_available: true, ipmi_version_major: 2, ipmi_version_minor: 0, additional_support: 1, manufacturer_id: 0x1291, product_id: 0x4850, aux_firmware: null };
    const dev = decodeDeviceId(encodeDeviceId(device));
    expect(dev.ok && dev.value).toEqual(device);
  });

  it("Get Chassis Status needs only the power byte", () => {
    expect(decodeChassisStatus(fromHex("01")).ok).toBe(true);
    expect(decodeChassisStatus(fromHex("")).ok).toBe(false);
    const s = decodeChassisStatus(fromHex("410000"));
    expect(s.ok && s.value).toMatchObject({ power_on: true, restore_policy: 2 });
  });

  it("Open Session and RAKP1", () => {
    const open = { tag: 7, max_privilege: 4, console_session_id: 0xdeadbeef, algorithms: { auth: 3, integrity: 4, confidentiality: 1 } };
    const o = decodeOpenSessionRequest(encodeOpenSessionRequest(open));
    expect(o.ok && o.value).toEqual(open);
    const rakp1 = { tag: 8, bmc_session_id: 0x1234, console_random: new Uint8Array(16).fill(9), role: 0x14, username: new TextEncoder().encode("admin") };
    const r = decodeRakp1(encodeRakp1(rakp1));
    expect(r.ok && r.value).toEqual(rakp1);
    expect(decodeRakp2(fromHex("080d")).ok).toBe(true);
  });
});

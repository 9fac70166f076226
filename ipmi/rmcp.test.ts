import { describe, expect, it } from "vitest";
import { checksum, fromHex, hex } from "./bytes.ts";
import {
  decodeIpmiRequest,
  decodeIpmiResponse,
  decodePacket,
  encodeIpmiRequest,
  encodeIpmiResponse,
  encodeV15,
  encodeV20,
  splitIntegrityTrailer,
} from "./rmcp.ts";

describe("IPMI message checksums", () => {
  it("makes the bytes plus the checksum sum to zero", () => {
    expect(checksum(fromHex("2018"), 0, 2)).toBe(0xc8);
    expect(checksum(new Uint8Array(0), 0, 0)).toBe(0);
  });

  it("encodes Get Channel Auth Caps in IPMI 1.5 framing byte for byte", () => {
    const message = encodeIpmiRequest({ rs_addr: 0x20, net_fn: 0x06, rs_lun: 0, rq_addr: 0x81, rq_seq: 1, rq_lun: 0, cmd: 0x38, data: fromHex("8e04") });
    // rsAddr netFn chk1 rqAddr seq cmd data chk2 (hand computed: 0x100 - 0x4f = 0xb1)
    expect(hex(message)).toBe("2018c88104388e04b1");
    const datagram = encodeV15({ session_seq: 0, session_id: 0, message });
    expect(hex(datagram)).toBe("0600ff07" + "00" + "00000000" + "00000000" + "09" + "2018c88104388e04b1");
  });
});

describe("IPMI LAN messages", () => {
  it("round-trips requests and responses", () => {
    const request = { rs_addr: 0x20, net_fn: 0x00, rs_lun: 0, rq_addr: 0x81, rq_seq: 63, rq_lun: 0, cmd: 0x02, data: fromHex("00") };
    const back = decodeIpmiRequest(encodeIpmiRequest(request));
    expect(back.ok && back.value).toEqual(request);
    const response = { rq_addr: 0x81, net_fn: 0x07, rq_lun: 0, rs_addr: 0x20, rq_seq: 5, rs_lun: 0, cmd: 0x38, completion_code: 0, data: fromHex("0184040300000000") };
    const decoded = decodeIpmiResponse(encodeIpmiResponse(response));
    expect(decoded.ok && decoded.value).toEqual(response);
  });

  it("rejects short messages and broken checksums", () => {
    expect(decodeIpmiResponse(fromHex("8118")).ok).toBe(false);
    const good = encodeIpmiResponse({ rq_addr: 0x81, net_fn: 0x07, rq_lun: 0, rs_addr: 0x20, rq_seq: 1, rs_lun: 0, cmd: 1, completion_code: 0, data: new Uint8Array(0) });
    const bad1 = good.slice();
    bad1[2] = (bad1[2] ?? 0) ^ 1;
    const bad2 = good.slice();
    bad2[good.length - 1] = (bad2[good.length - 1] ?? 0) ^ 1;
    expect(decodeIpmiResponse(bad1)).toEqual({ ok: false, error: "IPMI header checksum mismatch" });
    expect(decodeIpmiResponse(bad2)).toEqual({ ok: false, error: "IPMI data checksum mismatch" });
  });
});

describe("RMCP framing", () => {
  it("decodes the IPMI 1.5 and RMCP+ session wrappers", () => {
    const v15 = decodePacket(encodeV15({ session_seq: 7, session_id: 9, message: fromHex("aabb") }));
    expect(v15.ok && v15.value).toMatchObject({ kind: "v15", auth_type: 0, session_seq: 7, session_id: 9 });
    const v20 = decodePacket(encodeV20({ payload_type: 0x10, encrypted: false, authenticated: false, session_id: 0, session_seq: 0, payload: fromHex("0102") }));
    expect(v20.ok && v20.value).toMatchObject({ kind: "v20", payload_type: 0x10, encrypted: false, authenticated: false });
  });

  it("pads the integrity range to a multiple of 4 and splits it back", () => {
    for (let n = 0; n < 8; n++) {
      const payload = new Uint8Array(n).fill(0x33);
      let seen: Uint8Array | null = null;
      const datagram = encodeV20({ payload_type: 0, encrypted: true, authenticated: true, session_id: 5, session_seq: 1, payload }, (covered) => {
        seen = covered;
        return new Uint8Array(12).fill(0xaa);
      });
      expect(seen).not.toBeNull();
      expect((seen as unknown as Uint8Array).length % 4).toBe(0);
      const packet = decodePacket(datagram);
      if (!packet.ok || packet.value.kind !== "v20") throw new Error("decode failed");
      expect(packet.value.encrypted && packet.value.authenticated).toBe(true);
      const split = splitIntegrityTrailer(datagram, packet.value, 12);
      expect(split.ok && hex(split.value.covered)).toBe(hex(seen as unknown as Uint8Array));
      expect(split.ok && hex(split.value.auth_code)).toBe("aa".repeat(12));
    }
  });

  it("refuses non-RMCP and truncated datagrams with an error, not a throw", () => {
    expect(decodePacket(new Uint8Array(0)).ok).toBe(false);
    expect(decodePacket(fromHex("0500ff07")).ok).toBe(false);
    expect(decodePacket(fromHex("0600ff08")).ok).toBe(false);
    expect(decodePacket(fromHex("0600ff0706")).ok).toBe(false);
    expect(decodePacket(fromHex("0600ff07" + "00" + "0000000000000000" + "05" + "aa")).ok).toBe(false);
    expect(decodePacket(new Uint8Array(4096)).ok).toBe(false);
  });

  it("reads an ASF presence pong", () => {
    const pong = decodePacket(fromHex("0600ff06" + "000011be" + "40" + "07" + "00" + "10" + "000011be00000000810000000000000000".slice(0, 32)));
    expect(pong.ok && pong.value.kind).toBe("asf");
  });
});

// Property-based fuzzing (fast-check) of every decoder and of both state machines: random bytes
// and mutations of valid packets must give a decode error or a dropped datagram, never an
// exception, never an unbounded amount of work. A hostile BMC must not crash or hang the client.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeChannelAuthCapabilities,
  decodeChassisControlRequest,
  decodeChassisStatus,
  decodeCipherSuitePage,
  decodeCloseSessionRequest,
  decodeDeviceId,
  decodeSessionPrivilege,
  decodeSetWatchdogRequest,
  decodeWatchdogState,
  getChassisStatusRequest,
  parseCipherSuiteRecords,
} from "./commands.ts";
import { decryptPayload } from "./crypto.ts";
import { parseArgv, parseStdin, resolveOptions } from "./fence-options.ts";
import { decodeOpenSessionRequest, decodeOpenSessionResponse, decodeRakp1, decodeRakp2, decodeRakp3, decodeRakp4 } from "./rakp.ts";
import { decodeIpmiRequest, decodeIpmiResponse, decodePacket, splitIntegrityTrailer } from "./rmcp.ts";
import { IpmiSession, type SessionEffect } from "./session.ts";
import { VirtualLink, seededBytes, virtualBmc } from "./virtual-link.ts";

const RUNS = 300;

const decoders: Record<string, (bytes: Uint8Array) => { ok: boolean }> = {
  decodePacket,
  decodeIpmiRequest,
  decodeIpmiResponse,
  decodeOpenSessionRequest,
  decodeOpenSessionResponse,
  decodeRakp1,
  decodeRakp2,
  decodeRakp3,
  decodeRakp4,
  decodeChannelAuthCapabilities,
  decodeCipherSuitePage,
  decodeSessionPrivilege,
  decodeCloseSessionRequest,
  decodeDeviceId,
  decodeChassisStatus,
  decodeChassisControlRequest,
  decodeWatchdogState,
  decodeSetWatchdogRequest,
  decryptPayload: (bytes) => decryptPayload(new Uint8Array(16), bytes),
  parseCipherSuiteRecords: (bytes) => ({ ok: Array.isArray(parseCipherSuiteRecords(bytes)) }),
  splitIntegrityTrailer: (bytes) => {
    const packet = decodePacket(bytes);
    if (!packet.ok || packet.value.kind !== "v20") return { ok: false };
    splitIntegrityTrailer(bytes, packet.value, 12);
    return splitIntegrityTrailer(bytes, packet.value, 16);
  },
};

/** Valid datagrams of full sessions (suites 17 and 3, both directions) to mutate. */
function corpus(): { to_bmc: Uint8Array[]; to_client: Uint8Array[] } {
  const out = { to_bmc: [] as Uint8Array[], to_client: [] as Uint8Array[] };
  for (const cipher of [17, 3] as const) {
    const l = new VirtualLink(new IpmiSession(sessionConfig(cipher, 1)), virtualBmc());
    l.apply(l.session.start(0, 10_000));
    l.run(() => l.has("established"));
    l.apply(l.session.request(1, getChassisStatusRequest(), l.now_ms));
    l.run(() => l.has("response"));
    l.apply(l.session.close(l.now_ms));
    l.run(() => l.has("closed"));
    out.to_bmc.push(...l.sent.to_bmc);
    out.to_client.push(...l.sent.to_client);
  }
  return out;
}

function sessionConfig(cipher: 3 | 17, seed: number) {
  return {
    bmc: "fuzz:623",
    username: "admin",
    password: new TextEncoder().encode("s3cret"),
    kg: null,
    cipher,
    privilege: "administrator" as const,
    request_timeout_ms: 500,
    max_attempts: 3,
    random_bytes: seededBytes(seed),
  };
}

const CORPUS = corpus();

type Mutation = { kind: "flip"; at: number; bit: number } | { kind: "truncate"; to: number } | { kind: "append"; bytes: Uint8Array } | { kind: "set"; at: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("truncate" as const), to: fc.nat() }),
  fc.record({ kind: fc.constant("append" as const), bytes: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
);

function mutate(original: Uint8Array, mutations: Mutation[]): Uint8Array {
  let bytes = original.slice();
  for (const m of mutations) {
    if (bytes.length === 0) break;
    if (m.kind === "flip") bytes[m.at % bytes.length] = (bytes[m.at % bytes.length] ?? 0) ^ (1 << m.bit);
    else if (m.kind === "set") bytes[m.at % bytes.length] = m.value;
    else if (m.kind === "truncate") bytes = bytes.slice(0, m.to % (bytes.length + 1));
    else {
      const longer = new Uint8Array(bytes.length + m.bytes.length);
      longer.set(bytes);
      longer.set(m.bytes, bytes.length);
      bytes = longer;
    }
  }
  return bytes;
}

const mutatedPacket = (pool: Uint8Array[]) =>
  fc.tuple(fc.integer({ min: 0, max: pool.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([i, ms]) => mutate(pool[i] ?? new Uint8Array(0), ms));

describe("decoders are total", () => {
  for (const [name, decode] of Object.entries(decoders)) {
    it(`${name}: random bytes give a result, never a throw`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          expect(typeof decode(bytes).ok).toBe("boolean");
        }),
        { numRuns: RUNS },
      );
    });
  }

  it("every decoder survives mutations of valid datagrams and of their payloads", () => {
    const pool = [...CORPUS.to_bmc, ...CORPUS.to_client];
    fc.assert(
      fc.property(mutatedPacket(pool), (bytes) => {
        for (const decode of Object.values(decoders)) expect(typeof decode(bytes).ok).toBe("boolean");
        const packet = decodePacket(bytes);
        if (packet.ok && packet.value.kind === "v20") {
          for (const decode of Object.values(decoders)) expect(typeof decode(packet.value.payload).ok).toBe("boolean");
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("a datagram larger than any IPMI packet is refused up front", () => {
    expect(decodePacket(new Uint8Array(1 << 20)).ok).toBe(false);
  });
});

function noInternalError(effects: SessionEffect[]): void {
  for (const e of effects) {
    if (e.kind === "failed" || e.kind === "request_failed") expect(e.error.message).not.toContain("internal error");
  }
}

describe("state machines never throw and stay bounded", () => {
  it("the client session drops or refuses hostile datagrams in every phase", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(17 as const, 3 as const),
        fc.integer({ min: 0, max: 12 }),
        fc.array(fc.oneof(mutatedPacket(CORPUS.to_client), fc.uint8Array({ maxLength: 120 })), { minLength: 1, maxLength: 6 }),
        (cipher, injectAfter, hostile) => {
          let delivered = 0;
          const l = new VirtualLink(new IpmiSession(sessionConfig(cipher, 9)), virtualBmc());
          l.apply(l.session.start(0, 10_000));
          // Let the real exchange progress a bit, then throw the hostile datagrams at the session.
          l.run(() => delivered++ >= injectAfter || l.has("established"));
          for (const bytes of hostile) {
            const effects = l.session.receive(bytes, l.now_ms);
            expect(effects.length).toBeLessThanOrEqual(8);
            noInternalError(effects);
            l.apply(effects);
          }
          l.run(() => l.has("established") || l.has("failed"), l.now_ms + 30_000, 500);
          noInternalError(l.results);
          // Whatever happened, the session ended in a defined state within bounded steps.
          expect(["established", "failed"].some((k) => l.has(k as SessionEffect["kind"]))).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("the responder drops or refuses hostile datagrams", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(mutatedPacket(CORPUS.to_bmc), fc.uint8Array({ maxLength: 120 })), { minLength: 1, maxLength: 10 }), (hostile) => {
        const bmc = virtualBmc();
        let now = 0;
        for (const bytes of hostile) {
          const effects = bmc.receive(bytes, "evil:1", (now += 10));
          expect(effects.filter((e) => e.kind === "send").length).toBeLessThanOrEqual(1);
          for (const e of effects) if (e.kind === "log") expect(e.text).not.toContain("internal error");
        }
        expect(bmc.sessionCount).toBeLessThanOrEqual(10);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("fence option parsers are total", () => {
  it("stdin text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        const parsed = parseStdin(text);
        resolveOptions(parsed.options, parsed.verbose_count);
      }),
      { numRuns: RUNS },
    );
  });

  it("argv", () => {
    const token = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("-o", "--action", "-C", "--cipher=0", "-Pv", "--ip", "-", "--", "--power-timeout=x", "-p"));
    fc.assert(
      fc.property(fc.array(token, { maxLength: 12 }), (argv) => {
        const parsed = parseArgv(argv);
        resolveOptions(parsed.options, parsed.verbose_count);
      }),
      { numRuns: RUNS },
    );
  });
});

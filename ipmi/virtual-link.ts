// An in-memory network between one client session core (session.ts) and one BMC responder core
// (responder.ts), on a virtual clock, with seeded loss. No sockets, no real time: the same
// seed gives the same run. Used by the session tests and meant for the cluster simulator's
// virtual BMCs.

import { ChassisModel } from "./chassis-model.ts";
import type { CipherSuiteId } from "./crypto.ts";
import { BmcResponder, type ResponderUser } from "./responder.ts";
import type { IpmiSession, SessionEffect } from "./session.ts";
import { seededRandom } from "../services/shared/random.ts";

export { seededRandom };

export function seededBytes(seed: number): (count: number) => Uint8Array {
  const next = seededRandom(seed);
  return (count) => Uint8Array.from({ length: count }, () => Math.floor(next() * 256));
}

export type VirtualBmcOptions = {
  users?: ResponderUser[];
  cipher_suites?: CipherSuiteId[];
  channel_privilege_limit?: number;
  power_on?: boolean;
  power_cycle_off_ms?: number;
  seed?: number;
};

export const VIRTUAL_BMC_ADDRESS = "client:1";

export function virtualBmc(options: VirtualBmcOptions = {}): BmcResponder {
  return new BmcResponder({
    users: options.users ?? [{ name: "admin", password: "s3cret", max_privilege: 4 }],
    guid: Uint8Array.from({ length: 16 }, (_, i) => 0xb0 + i),
    cipher_suites: options.cipher_suites ?? [17, 3],
    channel_privilege_limit: options.channel_privilege_limit ?? 4,
    random_bytes: seededBytes(options.seed ?? 7),
    session_timeout_ms: 60_000,
    max_sessions: 8,
    device: {
      device_id: 0x20,
      device_revision: 1,
      provides_sdrs: false,
      firmware_major: 1,
      firmware_minor_bcd: 0,
      device_available: true,
      ipmi_version_major: 2,
      ipmi_version_minor: 0,
      additional_support: 1,
      manufacturer_id: 0,
      product_id: 0x4850,
      aux_firmware: null,
    },
    chassis: new ChassisModel({ power_on: options.power_on ?? true, power_cycle_off_ms: options.power_cycle_off_ms ?? 1000 }),
  });
}

export type Direction = "to_bmc" | "to_client";

export type LinkOptions = {
  /** One-way delay of every datagram. */
  latency_ms?: number;
  /** Return true to lose this datagram. `index` counts datagrams per direction from 0. */
  drop?: (direction: Direction, index: number, bytes: Uint8Array) => boolean;
  /** Tap on every datagram that is delivered or lost (for fuzzing and assertions). */
  tap?: (direction: Direction, bytes: Uint8Array, lost: boolean) => void;
};

type Delivery = { at_ms: number; direction: Direction; bytes: Uint8Array; order: number };

export class VirtualLink {
  now_ms = 0;
  readonly results: SessionEffect[] = [];
  readonly sent: Record<Direction, Uint8Array[]> = { to_bmc: [], to_client: [] };
  private readonly in_flight: Delivery[] = [];
  private session_timer: number | null = null;
  private order = 0;

  constructor(
    readonly session: IpmiSession,
    readonly bmc: BmcResponder,
    private readonly options: LinkOptions = {},
  ) {}

  /** Feed the effects of a session call into the network and the result list. */
  apply(effects: SessionEffect[]): void {
    for (const effect of effects) {
      if (effect.kind === "send") this.transmit("to_bmc", effect.bytes);
      else if (effect.kind === "timer") this.session_timer = effect.at_ms;
      else this.results.push(effect);
    }
  }

  private transmit(direction: Direction, bytes: Uint8Array): void {
    const index = this.sent[direction].length;
    this.sent[direction].push(bytes);
    const lost = this.options.drop?.(direction, index, bytes) ?? false;
    this.options.tap?.(direction, bytes, lost);
    if (!lost) this.in_flight.push({ at_ms: this.now_ms + (this.options.latency_ms ?? 1), direction, bytes, order: this.order++ });
  }

  /** Inject a datagram as if the BMC (to_client) or a console (to_bmc) had sent it. */
  inject(direction: Direction, bytes: Uint8Array): void {
    this.in_flight.push({ at_ms: this.now_ms, direction, bytes, order: this.order++ });
  }

  private deliverBmcEffects(effects: ReturnType<BmcResponder["tick"]>): void {
    for (const effect of effects) if (effect.kind === "send") this.transmit("to_client", effect.bytes);
  }

  /**
   * Run until `until` holds or virtual time reaches `limit_ms`. Bounded: at most `max_steps`
   * events, so a livelock shows up as a failed test, not a hung one.
   */
  run(until: () => boolean, limit_ms = this.now_ms + 120_000, max_steps = 10_000): void {
    for (let step = 0; step < max_steps && !until(); step++) {
      this.in_flight.sort((a, b) => a.at_ms - b.at_ms || a.order - b.order);
      const next = this.in_flight[0];
      const bmc_wake = this.bmc.nextWakeMs();
      const candidates = [next?.at_ms, this.session_timer ?? undefined, bmc_wake ?? undefined].filter((t): t is number => t !== undefined);
      if (candidates.length === 0) return;
      const at = Math.min(...candidates);
      if (at > limit_ms) {
        this.now_ms = limit_ms;
        return;
      }
      this.now_ms = Math.max(this.now_ms, at);
      if (next && next.at_ms <= at) {
        this.in_flight.shift();
        if (next.direction === "to_bmc") this.deliverBmcEffects(this.bmc.receive(next.bytes, VIRTUAL_BMC_ADDRESS, this.now_ms));
        else this.apply(this.session.receive(next.bytes, this.now_ms));
      } else if (this.session_timer !== null && this.session_timer <= at) {
        this.session_timer = null;
        this.apply(this.session.tick(this.now_ms));
      } else {
        this.deliverBmcEffects(this.bmc.tick(this.now_ms));
      }
    }
  }

  /** Advance virtual time to `until_ms`, processing everything due on the way. */
  advanceTo(until_ms: number): void {
    this.run(() => false, until_ms);
    this.now_ms = Math.max(this.now_ms, until_ms);
  }

  has(kind: SessionEffect["kind"]): boolean {
    return this.results.some((r) => r.kind === kind);
  }

  find<K extends SessionEffect["kind"]>(kind: K): Extract<SessionEffect, { kind: K }> | undefined {
    return this.results.find((r) => r.kind === kind) as Extract<SessionEffect, { kind: K }> | undefined;
  }
}

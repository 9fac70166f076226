// Link faults for the lab: loss, delay and jitter on one interface of one namespace.
//
// `tc netem` is the tool of choice, but some kernels are built without it (these machines:
// CONFIG_NET_SCH_NETEM is not set). There, loss falls back to an nftables rule (numgen random)
// and delay/jitter cannot be applied at all; the caller is told exactly what was applied, so a
// test or benchmark can say so instead of pretending.
import { spawnSync } from "node:child_process";

export interface Impairment {
  loss_pct: number;
  delay_ms?: number;
  jitter_ms?: number;
}

export interface Applied {
  method: "netem" | "nftables";
  loss_pct: number;
  delay_ms: number;
  jitter_ms: number;
  note: string;
}

let netemCache: boolean | null = null;

export function kernelHasNetem(): boolean {
  if (netemCache !== null) return netemCache;
  const ns = `hapd-probe-${process.pid}`;
  const sh = (args: string[]) => spawnSync("ip", args, { encoding: "utf8" }).status === 0;
  sh(["netns", "add", ns]);
  sh(["-n", ns, "link", "add", "probe0", "type", "dummy"]);
  netemCache = spawnSync("tc", ["-n", ns, "qdisc", "add", "dev", "probe0", "root", "netem", "delay", "1ms"], { encoding: "utf8" }).status === 0;
  sh(["netns", "del", ns]);
  return netemCache;
}

const TABLE = "hapd_impair";

/**
 * Impair `dev` in `netns`. Call it for every node's end of the link: `loss_pct` is then the loss
 * each direction between two impaired ends sees (netem applies it on the way out; the nftables
 * fallback splits it between the way out and the way in).
 */
export function impair(netns: string, dev: string, f: Impairment): Applied {
  if (kernelHasNetem()) {
    const args = ["-n", netns, "qdisc", "add", "dev", dev, "root", "netem", "loss", `${f.loss_pct}%`];
    if (f.delay_ms) args.push("delay", `${f.delay_ms}ms`, `${f.jitter_ms ?? 0}ms`);
    const r = spawnSync("tc", args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`tc ${args.join(" ")}: ${r.stderr.trim()}`);
    return { method: "netem", loss_pct: f.loss_pct, delay_ms: f.delay_ms ?? 0, jitter_ms: f.jitter_ms ?? 0, note: "tc netem" };
  }
  const nft = (script: string) => {
    const r = spawnSync("ip", ["netns", "exec", netns, "nft", "-f", "-"], { input: script, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`nft in ${netns}: ${r.stderr.trim()}`);
  };
  // Out at the sender and in at the receiver: 1 - (1 - p)^2 = loss.
  const per_mille = Math.round((1 - Math.sqrt(1 - f.loss_pct / 100)) * 1000);
  nft(
    `table inet ${TABLE} {\n chain out { type filter hook output priority 0; oifname "${dev}" numgen random mod 1000 < ${per_mille} drop; }\n chain in { type filter hook input priority 0; iifname "${dev}" numgen random mod 1000 < ${per_mille} drop; }\n}\n`,
  );
  const note = "kernel without netem: loss by nftables on this interface (in and out); delay and jitter not applied";
  return { method: "nftables", loss_pct: f.loss_pct, delay_ms: 0, jitter_ms: 0, note };
}

export function clearImpairment(netns: string, dev: string): void {
  spawnSync("tc", ["-n", netns, "qdisc", "del", "dev", dev, "root"], { encoding: "utf8" });
  spawnSync("ip", ["netns", "exec", netns, "nft", "delete", "table", "inet", TABLE], { encoding: "utf8" });
}

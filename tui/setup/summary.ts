// What the summary shows before anything is written: every setting on one scrollable page.
import { dirname } from "node:path";
import { DEFAULT_BMC_PORT, HOSTS, NODES, type Values, type WizardEnv, isHost } from "./steps.ts";
import { APPLIANCE_FILE, KEY_FILE, bmcPasswordFile } from "./setup-files.ts";
import { parseEndpoint, splitList } from "./validate.ts";
import type { ActionResult } from "./wizard-reducer.ts";

export type SummaryRow = [label: string, value: string];

export function summaryRows(v: Values, env: WizardEnv, results: Record<string, ActionResult>): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const role = v.role === "arb" ? "arbitrator (arb)" : (v.role ?? "");
  rows.push(["Host name", v.hostname ?? ""], ["Role", role]);
  const mgmt =
    v["mgmt.mode"] === "static"
      ? `${v["mgmt.iface"]} static ${v["mgmt.address"]} via ${v["mgmt.gateway"]}, DNS ${splitList(v["mgmt.dns"] ?? "").join(" ")}`
      : `${v["mgmt.iface"]} DHCP`;
  rows.push(["Management", `${mgmt}${v["mgmt.vlan"] ? `, VLAN ${v["mgmt.vlan"]}` : ""}`]);
  rows.push(["ring0", `${v["ring0.iface"]} ${v["ring0.address"]}, UDP ${v["ring.port"]}`]);
  rows.push(["ring1", (v["ring1.iface"] ?? "none") === "none" ? "none (one network only)" : `${v["ring1.iface"]} ${v["ring1.address"]}`]);
  if (isHost(v)) rows.push(["Serial line", `${v["serial.device"]} to ${v.role === "host-a" ? "host-b" : "host-a"}, 115200 baud`]);
  if (v["cluster.mode"] === "create") {
    rows.push(["Cluster", `create "${v["cluster.name"]}" with a new key`], ["Join token", env.newToken]);
  } else {
    rows.push(["Cluster", `join "${v["cluster.name"]}" through ${v["cluster.peer"]}`]);
  }
  for (const n of NODES) {
    if (n.name === v.role) continue;
    const r1 = v[`peer.${n.name}.ring1`];
    rows.push([`${n.name}`, `ring0 ${v[`peer.${n.name}.ring0`]}${(v["ring1.iface"] ?? "none") !== "none" ? `, ring1 ${r1}` : ""}`]);
  }
  for (const hn of HOSTS) {
    const ep = parseEndpoint(v[`bmc.${hn}.address`] ?? "", DEFAULT_BMC_PORT);
    const test = results[`bmc.${hn}.test`];
    const tested = test?.state === "ok" ? "Test OK" : test?.state === "failed" ? "Test FAILED" : "not tested";
    rows.push([`${hn} BMC`, `${ep?.address}:${ep?.port}, user ${v[`bmc.${hn}.user`]}, cipher ${v[`bmc.${hn}.cipher`]}, ${tested}`]);
  }
  const wd = v["watchdog.driver"] ?? "none";
  const wdTest = results["watchdog.test"];
  rows.push([
    "Watchdog",
    wd === "none"
      ? "none: nothing resets this box if its services hang"
      : `${wd === "ipmi" ? `BMC of ${v.role}` : wd}, ${v["watchdog.timeout"]} s, ${wdTest?.state === "ok" ? "Test OK" : wdTest?.state === "failed" ? "Test FAILED" : "not tested"}`,
  ]);
  if (isHost(v)) rows.push(["Disks", (v.disks ?? "").split(",").filter(Boolean).join(" ") || "none"]);
  rows.push(["Time servers", splitList(v["time.servers"] ?? "").join(" ")]);
  rows.push(["Admin password", "set (stored as an scrypt hash)"]);
  const dir = dirname(env.configPath);
  rows.push(["Files", env.configPath]);
  for (const f of [APPLIANCE_FILE, KEY_FILE, ...HOSTS.map(bmcPasswordFile)]) rows.push(["", `${dir}/${f}`]);
  return rows;
}

// Replays one generated scenario by name (kind-seed): writes its CIB and prints both summaries.
//   node_modules/.bin/bun test/crm/replay.ts node-loss-12 [out.xml]
import { writeFileSync } from "node:fs";
import { readCib } from "../../services/crm/cib-xml.ts";
import { schedule, transitionSummary } from "../../services/crm/scheduler.ts";
import { KINDS, type Kind, generate } from "./generate.ts";
import { CRM_SIMULATE, oracleSummary } from "./oracle.ts";

const name = process.argv[2] ?? "";
const m = /^(.*)-(\d+)$/.exec(name);
if (!m || !(KINDS as readonly string[]).includes(m[1]!)) {
  process.stderr.write(`usage: replay.ts KIND-SEED (kinds: ${KINDS.join(", ")})\n`);
  process.exit(2);
}
const now_s = Math.floor(Date.now() / 1000);
const s = generate(Number(m[2]), now_s, m[1] as Kind);
const file = process.argv[3] ?? `/tmp/${s.name}.xml`;
writeFileSync(file, s.xml);
process.stdout.write(`CIB: ${file}\nhapd:\n${transitionSummary(schedule(readCib(s.xml, file), { now_s })).join("\n")}\n`);
if (CRM_SIMULATE) process.stdout.write(`crm_simulate:\n${oracleSummary(file).join("\n")}\n`);

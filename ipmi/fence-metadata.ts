// `-o metadata` XML and `--help` text in the fence-agents formats (fencing.py's metadata() and
// usage()), generated from the option table so the three never disagree.

import { OPTION_SPECS, type OptionSpec } from "./fence-options.ts";

export const AGENT_NAME = "fence_hapd";
export const AGENT_VERSION = "0.1.0";

const PLACEHOLDER: Record<string, string> = {
  action: "action",
  ip: "ip",
  ipport: "port",
  username: "name",
  password: "password",
  password_script: "script",
  cipher: "cipher",
  privlvl: "level",
  auth: "auth",
  method: "method",
  hexadecimal_kg: "key",
  target: "targetaddress",
  plug: "ip",
  retry_on: "attempts",
  debug_file: "debugfile",
  plug_separator: "char",
  disable_timeout: "true/false",
  ipmitool_path: "path",
  sudo_path: "path",
};

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function mixed(spec: OptionSpec): string {
  const long = `--${spec.long}`;
  const value = spec.takes_value && spec.key !== "verbose_level" ? `=[${PLACEHOLDER[spec.key] ?? (spec.content === "second" ? "seconds" : spec.key)}]` : "";
  return spec.short ? `-${spec.short}, ${long}${value}` : `${long}${value}`;
}

function parameter(spec: OptionSpec, name: string, extra: string): string[] {
  const lines: string[] = [];
  lines.push(`\t<parameter name="${name}" unique="0" required="${spec.required ? 1 : 0}"${extra}>`);
  lines.push(`\t\t<getopt mixed="${escapeXml(mixed(spec))}" />`);
  const dflt = spec.default !== undefined ? `default="${escapeXml(spec.default)}" ` : "";
  if (spec.content === "select" && spec.choices) {
    lines.push(`\t\t<content type="select" ${dflt} >`);
    for (const choice of spec.choices) lines.push(`\t\t\t<option value="${escapeXml(choice)}" />`);
    lines.push("\t\t</content>");
  } else {
    lines.push(`\t\t<content type="${spec.content}" ${dflt} />`);
  }
  lines.push(`\t\t<shortdesc lang="en">${escapeXml(spec.shortdesc)}</shortdesc>`);
  lines.push("\t</parameter>");
  return lines;
}

export function metadataXml(): string {
  const lines: string[] = [];
  lines.push('<?xml version="1.0" ?>');
  lines.push(`<resource-agent name="${AGENT_NAME}" shortdesc="Fence agent for IPMI v2.0 (RMCP+) BMCs, built into hapd" >`);
  lines.push(
    "<longdesc>fence_hapd (hapd fence) is an I/O fencing agent for machines controlled by an IPMI v2.0 BMC. " +
      "It speaks RMCP+ itself (cipher suite 17, or 3 when the BMC lacks 17) and reports success for off and reboot " +
      "only after the chassis reads back off. Cipher suite 0 and IPMI v1.5 none/password authentication are refused.</longdesc>",
  );
  lines.push("<vendor-url></vendor-url>");
  lines.push("<parameters>");
  for (const spec of OPTION_SPECS) {
    if (spec.ignored) continue;
    const aliases = spec.aliases ?? [];
    const obsoletes = aliases.length > 0 ? ` obsoletes="${aliases[0]}"` : "";
    lines.push(...parameter(spec, spec.key, obsoletes));
    for (const alias of aliases) lines.push(...parameter(spec, alias, ' deprecated="1"'));
  }
  lines.push("</parameters>");
  lines.push("<actions>");
  lines.push('\t<action name="on" automatic="0"/>');
  for (const action of ["off", "reboot", "status", "monitor", "list", "list-status", "metadata", "manpage", "validate-all"]) {
    lines.push(`\t<action name="${action}" />`);
  }
  lines.push("</actions>");
  lines.push("</resource-agent>");
  return lines.join("\n") + "\n";
}

export function usageText(program: string): string {
  const lines = ["Usage:", `\t${program} [options]`, "Options:"];
  for (const spec of OPTION_SPECS) {
    lines.push(`   ${mixed(spec).padEnd(31)}${spec.help}`);
  }
  lines.push("", "With no options, name=value lines are read from standard input (the fence-agents protocol).");
  return lines.join("\n") + "\n";
}

// Operation digests: an MD5 over the parameters an operation ran with, as recorded in the CIB
// (op-digest, op-restart-digest). A recorded digest that no longer matches the configuration
// means the resource definition changed, so the resource must restart (or a recurring monitor be
// rescheduled). The digest is computed exactly as Pacemaker 2.1 does so that a CIB written by a
// real cluster is not seen as changed: a <parameters .../> element with the attributes sorted by
// name, serialised with Pacemaker's escaping, prefixed by a space and followed by a newline.
import { createHash } from "node:crypto";
import { featureSetLess } from "./model.ts";

function escapeValue(text: string): string {
  let out = "";
  const bytes = Buffer.from(text, "utf8");
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if ((b & 0x80) !== 0 && i + 1 < bytes.length && (bytes[i + 1]! & 0x80) !== 0) {
      // Pacemaker stops escaping at the first multi-byte character.
      return out + bytes.subarray(i).toString("utf8");
    }
    const c = String.fromCharCode(b);
    switch (c) {
      case "<":
        out += "&lt;";
        break;
      case ">":
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case "'":
        out += "&apos;";
        break;
      case "&":
        out += "&amp;";
        break;
      case "\t":
        out += "    ";
        break;
      case "\n":
        out += "\\n";
        break;
      case "\r":
        out += "\\r";
        break;
      default:
        if (b < 0x20 || b > 0x7e) out += `\\${b.toString(8).padStart(3, "0")}`;
        else out += c;
    }
  }
  return out;
}

/** The canonical text the digest is taken over. */
export function digestText(attrs: Record<string, string>): string {
  const names = Object.keys(attrs).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (names.length === 0) return " <parameters/>\n";
  return ` <parameters${names.map((n) => ` ${n}="${escapeValue(attrs[n]!)}"`).join("")}/>\n`;
}

export function md5(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}

const FILTERED: ReadonlySet<string> = new Set(["id", "crm_feature_set", "op-digest", "on_node", "on_node_uuid", "pcmk_external_ip"]);

/**
 * The parameters an operation's digest covers: the resource's instance attributes, overridden by
 * the operation's own instance attributes, and (for a recurring operation) its timeout.
 */
export function digestParams(params: Map<string, string> | Record<string, string>, opParams: Record<string, string>, interval_ms: number, timeout_ms: number): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = params instanceof Map ? [...params] : Object.entries(params);
  for (const [k, v] of entries) out[k] = v;
  for (const [k, v] of Object.entries(opParams)) out[k] = v;
  for (const k of Object.keys(out)) if (k.startsWith("CRM_meta_") || FILTERED.has(k)) delete out[k];
  if (interval_ms !== 0) out["CRM_meta_timeout"] = String(timeout_ms);
  return out;
}

export function opDigest(attrs: Record<string, string>): string {
  return md5(digestText(attrs));
}

/** The restart digest keeps only the parameters named in op-force-restart (" a b "). */
export function restartDigest(attrs: Record<string, string>, forceRestart: string | undefined): string {
  if (forceRestart === undefined) return opDigest(attrs);
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (forceRestart.includes(` ${k} `)) kept[k] = v;
  return opDigest(kept);
}

const STONITH_PARAMS: ReadonlySet<string> = new Set([
  "pcmk_action_limit",
  "pcmk_delay_base",
  "pcmk_delay_max",
  "pcmk_host_argument",
  "pcmk_host_check",
  "pcmk_host_list",
  "pcmk_host_map",
]);

function isStonithParam(name: string): boolean {
  if (name === "provides" || name === "stonith-timeout") return true;
  if (!name.startsWith("pcmk_")) return false;
  if (STONITH_PARAMS.has(name)) return true;
  const i = name.indexOf("_", 5);
  if (i < 0) return false;
  return ["_action", "_timeout", "_retries"].includes(name.slice(i));
}

/**
 * The "secure" digest (op-secure-digest): the parameters without the private ones listed in
 * op-secure-params. crm_simulate compares it so that a CIB whose secrets were replaced by "****"
 * (crm_report) does not look changed. Feature sets before 3.16.0 hashed only the resource's own
 * parameters and, for fence devices, without Pacemaker's pcmk_* parameters.
 */
export function secureDigest(
  params: Map<string, string>,
  all: Record<string, string>,
  secureList: string | undefined,
  featureSet: string | undefined,
  fenceDevice: boolean,
): string {
  const old = featureSetLess(featureSet, "3.16.0", false);
  const attrs: Record<string, string> = old ? Object.fromEntries(params) : { ...all };
  if (secureList !== undefined) for (const k of Object.keys(attrs)) if (secureList.includes(` ${k} `)) delete attrs[k];
  if (old && fenceDevice) for (const k of Object.keys(attrs)) if (isStonithParam(k)) delete attrs[k];
  for (const k of Object.keys(attrs)) if (k.startsWith("CRM_meta_") || FILTERED.has(k)) delete attrs[k];
  return opDigest(attrs);
}


// Parses an OCF agent's meta-data XML (the ra-api-1 DTD: <resource-agent> with <parameters> and
// <actions>) into the parameter list the runner checks requests against. Garbage — not XML,
// not a <resource-agent>, a parameter without a name — gives { ok: false, reason }, never a throw:
// an agent is third-party input.
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { parseDuration_ms } from "../../crm/model.ts";
import type { ActionSpec, AgentMetadata, ParameterSpec } from "./types.ts";

/** Meta-data bigger than this is refused rather than parsed (Dummy's is 2 KiB, IPaddr2's 11 KiB). */
export const METADATA_MAX_BYTES = 256 * 1024;

export type ParseResult = { ok: true; metadata: AgentMetadata } | { ok: false; reason: string };

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  parseAttributeValue: false,
  parseTagValue: false,
  // Entities from a DOCTYPE are not expanded: meta-data never needs them, and expansion is a
  // well-known way for hostile XML to blow up memory.
  processEntities: false,
  isArray: (name) => name === "parameter" || name === "action",
});

function asNode(v: unknown): Node | null {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Node) : null;
}

function text(v: unknown): string {
  if (typeof v === "string") return v.trim();
  const n = asNode(v);
  if (n && typeof n["#text"] === "string") return n["#text"].trim();
  return "";
}

function flag(v: unknown): boolean {
  return typeof v === "string" && /^(1|true|yes)$/i.test(v.trim());
}

function parseParameter(p: unknown, i: number): ParameterSpec | string {
  const n = asNode(p);
  if (!n) return `parameter #${i + 1} is not an element`;
  const name = n["@name"];
  if (typeof name !== "string" || name.trim() === "") return `parameter #${i + 1} has no name`;
  const content = asNode(n["content"]);
  const spec: ParameterSpec = {
    name: name.trim(),
    required: flag(n["@required"]),
    unique: flag(n["@unique"]),
    type: typeof content?.["@type"] === "string" ? (content["@type"] as string) : "string",
    shortdesc: text(n["shortdesc"]),
  };
  if (typeof content?.["@default"] === "string") spec.default = content["@default"] as string;
  return spec;
}

function parseAction(a: unknown, i: number): ActionSpec | string {
  const n = asNode(a);
  if (!n) return `action #${i + 1} is not an element`;
  const name = n["@name"];
  if (typeof name !== "string" || name.trim() === "") return `action #${i + 1} has no name`;
  const spec: ActionSpec = { name: name.trim() };
  const timeout = typeof n["@timeout"] === "string" ? parseDuration_ms(n["@timeout"] as string) : null;
  if (timeout !== null) spec.timeout_ms = timeout;
  const interval = typeof n["@interval"] === "string" ? parseDuration_ms(n["@interval"] as string) : null;
  if (interval !== null) spec.interval_ms = interval;
  const depth = typeof n["@depth"] === "string" ? Number(n["@depth"]) : NaN;
  if (Number.isInteger(depth)) spec.depth = depth;
  if (typeof n["@role"] === "string") spec.role = n["@role"] as string;
  return spec;
}

export function parseMetadata(xml: string): ParseResult {
  if (xml.length > METADATA_MAX_BYTES) return { ok: false, reason: `meta-data is ${xml.length} bytes, over the ${METADATA_MAX_BYTES}-byte bound` };
  if (xml.trim() === "") return { ok: false, reason: "meta-data is empty" };
  const valid = XMLValidator.validate(xml);
  if (valid !== true) return { ok: false, reason: `meta-data is not well-formed XML: ${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})` };
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (e) {
    return { ok: false, reason: `meta-data is not well-formed XML: ${(e as Error).message}` };
  }
  const root = asNode(asNode(doc)?.["resource-agent"]);
  if (!root) return { ok: false, reason: "meta-data has no <resource-agent> root element" };

  const parameters: ParameterSpec[] = [];
  const rawParams = asNode(root["parameters"])?.["parameter"];
  for (const [i, p] of (Array.isArray(rawParams) ? rawParams : []).entries()) {
    const spec = parseParameter(p, i);
    if (typeof spec === "string") return { ok: false, reason: `meta-data: ${spec}` };
    if (parameters.some((q) => q.name === spec.name)) return { ok: false, reason: `meta-data: parameter "${spec.name}" is declared twice` };
    parameters.push(spec);
  }
  const actions: ActionSpec[] = [];
  const rawActions = asNode(root["actions"])?.["action"];
  for (const [i, a] of (Array.isArray(rawActions) ? rawActions : []).entries()) {
    const spec = parseAction(a, i);
    if (typeof spec === "string") return { ok: false, reason: `meta-data: ${spec}` };
    actions.push(spec);
  }
  if (actions.length === 0) return { ok: false, reason: "meta-data declares no <actions>" };
  const name = typeof root["@name"] === "string" ? (root["@name"] as string) : "";
  const version = typeof root["@version"] === "string" ? (root["@version"] as string) : text(root["version"]);
  return { ok: true, metadata: { name, version, shortdesc: text(root["shortdesc"]), parameters, actions } };
}

/**
 * The request's parameters checked against the meta-data: the first required parameter that is
 * missing or empty, named. Pacemaker leaves this to the agent, and many agents (anything among
 * them) answer validate-all with success anyway; checking here gives the operator the name.
 */
export function missingRequired(meta: AgentMetadata, params: Readonly<Record<string, string>>): string | null {
  for (const p of meta.parameters) {
    if (!p.required) continue;
    const v = params[p.name];
    if (v === undefined || v === "") return p.name;
  }
  return null;
}

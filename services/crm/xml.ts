// A small element tree over fast-xml-parser (document order kept), with a path for every element
// so that errors can say where they are: /cib/configuration/resources/primitive[@id='vm1'].
import { XMLParser, XMLValidator } from "fast-xml-parser";

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  path: string;
}

export class XmlError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = "XmlError";
  }
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  commentPropName: "#comment",
});

type Raw = Record<string, unknown>;

function convert(raw: Raw, parentPath: string, siblingsSeen: Map<string, number>): XmlElement | null {
  const name = Object.keys(raw).find((k) => k !== ":@");
  if (name === undefined || name === "#text" || name === "#comment" || name.startsWith("?")) return null;
  const attrsRaw = (raw[":@"] ?? {}) as Record<string, unknown>;
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrsRaw)) attrs[k] = String(v);
  let step = name;
  if (attrs["id"] !== undefined) step = `${name}[@id='${attrs["id"]}']`;
  else {
    const n = (siblingsSeen.get(name) ?? 0) + 1;
    siblingsSeen.set(name, n);
    if (n > 1) step = `${name}[${n}]`;
  }
  const path = `${parentPath}/${step}`;
  const kids = (raw[name] ?? []) as Raw[];
  const seen = new Map<string, number>();
  const children: XmlElement[] = [];
  for (const k of kids) {
    const c = convert(k, path, seen);
    if (c) children.push(c);
  }
  return { name, attrs, children, path };
}

/** Parses an XML document; the error names the line and the reason when it is not well formed. */
export function parseXml(text: string, source = "input"): XmlElement {
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (valid !== true) {
    throw new XmlError(`${source}:${valid.err.line}:${valid.err.col}`, `not well-formed XML: ${valid.err.msg}`);
  }
  const doc = parser.parse(text) as Raw[];
  const seen = new Map<string, number>();
  for (const r of doc) {
    const e = convert(r, "", seen);
    if (e) return e;
  }
  throw new XmlError(source, "no root element");
}

export function child(e: XmlElement, name: string): XmlElement | undefined {
  return e.children.find((c) => c.name === name);
}

export function childrenNamed(e: XmlElement, name: string): XmlElement[] {
  return e.children.filter((c) => c.name === name);
}

export function escapeAttr(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

// A small, strict XML reader for CIB documents: elements, attributes, comments, the XML
// declaration, CDATA and character references. It keeps document order and gives every element
// a path for error messages (/cib/configuration/resources/primitive[@id='vm1']), computed only
// when an error needs it. Malformed input gives an XmlError with line and column.
//
// It is hand-written rather than a general XML library because CIBs of thousands of resources
// are many megabytes and the scheduler's whole-process time is dominated by reading them.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  parent: XmlElement | null;
  /** The element's path (computed on first use). */
  readonly path: string;
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

function computePath(e: XmlElement): string {
  let step = e.name;
  const id = e.attrs["id"];
  if (id !== undefined) step = `${e.name}[@id='${id}']`;
  else if (e.parent) {
    const same = e.parent.children.filter((c) => c.name === e.name && c.attrs["id"] === undefined);
    const i = same.indexOf(e);
    if (i > 0) step = `${e.name}[${i + 1}]`;
  }
  return `${e.parent ? computePath(e.parent) : ""}/${step}`;
}

class Element implements XmlElement {
  attrs: Record<string, string> = {};
  children: XmlElement[] = [];
  private cachedPath: string | null = null;
  constructor(
    readonly name: string,
    readonly parent: XmlElement | null,
  ) {}
  get path(): string {
    if (this.cachedPath === null) this.cachedPath = computePath(this);
    return this.cachedPath;
  }
}

const NAME_START = /[A-Za-z_:]/;

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function decodeEntities(s: string, at: () => string): string {
  if (s.indexOf("&") < 0) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);|&/g, (m, ent: string | undefined) => {
    if (ent === undefined) throw new XmlError(at(), "'&' must start an entity reference (use &amp;)");
    if (ent[0] === "#") {
      const code = ent[1] === "x" ? Number.parseInt(ent.slice(2), 16) : Number.parseInt(ent.slice(1), 10);
      if (!Number.isFinite(code) || code > 0x10ffff) throw new XmlError(at(), `invalid character reference ${m}`);
      return String.fromCodePoint(code);
    }
    switch (ent) {
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "amp":
        return "&";
      case "quot":
        return '"';
      case "apos":
        return "'";
      default:
        throw new XmlError(at(), `unknown entity ${m}`);
    }
  });
}

/** Parses an XML document into its root element. */
export function parseXml(text: string, source = "input"): XmlElement {
  const n = text.length;
  let i = 0;
  const where = (pos: number): string => {
    let line = 1;
    let col = 1;
    for (let k = 0; k < pos && k < n; k++) {
      if (text.charCodeAt(k) === 10) {
        line++;
        col = 1;
      } else col++;
    }
    return `${source}:${line}:${col}`;
  };
  const fail = (pos: number, reason: string): never => {
    throw new XmlError(where(pos), `not well-formed XML: ${reason}`);
  };
  let root: XmlElement | null = null;
  const stack: Element[] = [];
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  while (i < n) {
    const lt = text.indexOf("<", i);
    if (lt < 0) {
      if (text.slice(i).trim() !== "" && stack.length === 0) fail(i, "text outside the root element");
      break;
    }
    if (stack.length === 0 && text.slice(i, lt).trim() !== "") fail(i, "text outside the root element");
    i = lt;
    const c1 = text.charCodeAt(i + 1);
    if (c1 === 33 /* ! */) {
      if (text.startsWith("<!--", i)) {
        const end = text.indexOf("-->", i + 4);
        if (end < 0) fail(i, "unterminated comment");
        i = end + 3;
      } else if (text.startsWith("<![CDATA[", i)) {
        const end = text.indexOf("]]>", i + 9);
        if (end < 0) fail(i, "unterminated CDATA section");
        i = end + 3;
      } else if (text.startsWith("<!DOCTYPE", i)) {
        fail(i, "document type declarations are not accepted");
      } else fail(i, "unexpected '<!'");
      continue;
    }
    if (c1 === 63 /* ? */) {
      const end = text.indexOf("?>", i + 2);
      if (end < 0) fail(i, "unterminated processing instruction");
      i = end + 2;
      continue;
    }
    if (c1 === 47 /* / */) {
      const end = text.indexOf(">", i + 2);
      if (end < 0) fail(i, "unterminated end tag");
      const name = text.slice(i + 2, end).trim();
      const open = stack.pop();
      if (!open) fail(i, `end tag </${name}> without a start tag`);
      if (open!.name !== name) fail(i, `end tag </${name}> does not match <${open!.name}>`);
      i = end + 1;
      continue;
    }
    // Start tag.
    let j = i + 1;
    if (!NAME_START.test(text[j] ?? "")) fail(j, "expected an element name after '<'");
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === 32 || c === 9 || c === 10 || c === 13 || c === 47 || c === 62) break;
      j++;
    }
    const name = text.slice(i + 1, j);
    const parent = stack.length > 0 ? stack[stack.length - 1]! : null;
    if (!parent && root) fail(i, "a second root element");
    const el = new Element(name, parent);
    // Attributes.
    let selfClosing = false;
    for (;;) {
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
        j++;
      }
      if (j >= n) fail(i, `unterminated start tag <${name}>`);
      const c = text.charCodeAt(j);
      if (c === 62) {
        j++;
        break;
      }
      if (c === 47) {
        if (text.charCodeAt(j + 1) !== 62) fail(j, "expected '>' after '/'");
        selfClosing = true;
        j += 2;
        break;
      }
      const an = j;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 61 || d === 32 || d === 9 || d === 10 || d === 13 || d === 62 || d === 47) break;
        j++;
      }
      const attr = text.slice(an, j);
      if (attr === "" || !NAME_START.test(attr[0]!)) fail(an, `invalid attribute name in <${name}>`);
      while (j < n && isSpace(text.charCodeAt(j))) j++;
      if (text.charCodeAt(j) !== 61) fail(j, `attribute '${attr}' of <${name}> has no value`);
      j++;
      while (j < n && isSpace(text.charCodeAt(j))) j++;
      const q = text[j];
      if (q !== '"' && q !== "'") fail(j, `value of '${attr}' in <${name}> must be quoted`);
      const end = text.indexOf(q!, j + 1);
      if (end < 0) fail(j, `unterminated value of '${attr}' in <${name}>`);
      const raw = text.slice(j + 1, end);
      if (raw.indexOf("<") >= 0) fail(j, `'<' inside the value of '${attr}' in <${name}>`);
      if (Object.prototype.hasOwnProperty.call(el.attrs, attr)) fail(an, `duplicate attribute '${attr}' in <${name}>`);
      const pos = j;
      el.attrs[attr] = decodeEntities(raw, () => where(pos));
      j = end + 1;
    }
    if (parent) parent.children.push(el);
    else root = el;
    if (!selfClosing) stack.push(el);
    i = j;
  }
  if (stack.length > 0) fail(n, `<${stack[stack.length - 1]!.name}> is not closed`);
  if (!root) throw new XmlError(source, "no root element");
  return root;
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

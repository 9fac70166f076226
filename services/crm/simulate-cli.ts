// `hapd crm simulate --cib FILE.xml [--show-graph] [--now EPOCH_S]` and `hapd crm import`.
//
// simulate prints the Transition Summary in crm_simulate's exact form; the graph printer adds the
// ordered actions. Bad input (unreadable file, malformed XML, an element the model does not
// support) gives an error naming the element and the reason, and exit status 2.
import { readFileSync } from "node:fs";
import { readCib } from "./cib-xml.ts";
import { graphLines, schedule, transitionSummary } from "./scheduler.ts";
import { XmlError } from "./xml.ts";
import { ModelError } from "./model.ts";

export interface CrmIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

const defaultIo: CrmIo = { stdout: process.stdout, stderr: process.stderr };

interface Parsed {
  cib?: string;
  showGraph: boolean;
  now_s?: number;
  out?: string;
  help: boolean;
}

function parseArgs(argv: string[], allowed: ReadonlySet<string>): Parsed | string {
  const p: Parsed = { showGraph: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    const inline = eq > 0 ? a.slice(eq + 1) : undefined;
    const value = (): string | undefined => inline ?? argv[++i];
    if (!allowed.has(name)) return `unknown option '${name}'`;
    switch (name) {
      case "--cib":
      case "-x": {
        const v = value();
        if (v === undefined) return `${name} needs a file`;
        p.cib = v;
        break;
      }
      case "--show-graph":
        p.showGraph = true;
        break;
      case "--now": {
        const v = value();
        if (v === undefined || !/^\d+$/.test(v)) return "--now needs seconds since the epoch";
        p.now_s = Number(v);
        break;
      }
      case "--out":
      case "-o": {
        const v = value();
        if (v === undefined) return `${name} needs a file`;
        p.out = v;
        break;
      }
      case "--help":
      case "-h":
        p.help = true;
        break;
    }
  }
  return p;
}

function readInput(file: string, io: CrmIo): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    io.stderr.write(`hapd crm: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return null;
  }
}

function reportError(e: unknown, file: string, io: CrmIo): number {
  if (e instanceof XmlError || e instanceof ModelError) {
    io.stderr.write(`hapd crm: ${file}: ${e.message}\n`);
    return 2;
  }
  throw e;
}

const SIMULATE_USAGE = "usage: hapd crm simulate --cib FILE.xml [--show-graph] [--now EPOCH_SECONDS]\n";

/** hapd crm simulate: reads a Pacemaker 2.1 CIB and prints the transition it calls for. */
export async function crmSimulate(argv: string[], io: CrmIo = defaultIo): Promise<number> {
  const p = parseArgs(argv, new Set(["--cib", "-x", "--show-graph", "--now", "--help", "-h"]));
  if (typeof p === "string") {
    io.stderr.write(`hapd crm simulate: ${p}\n${SIMULATE_USAGE}`);
    return 2;
  }
  if (p.help) {
    io.stdout.write(SIMULATE_USAGE);
    return 0;
  }
  if (p.cib === undefined) {
    io.stderr.write(`hapd crm simulate: --cib is required\n${SIMULATE_USAGE}`);
    return 2;
  }
  const text = readInput(p.cib, io);
  if (text === null) return 2;
  let lines: string[];
  let graph: string[] = [];
  try {
    const input = readCib(text, p.cib);
    const t = schedule(input, { now_s: p.now_s ?? Math.floor(Date.now() / 1000) });
    lines = transitionSummary(t);
    if (p.showGraph) graph = graphLines(t);
  } catch (e) {
    return reportError(e, p.cib, io);
  }
  io.stdout.write(`Transition Summary:\n${lines.map((l) => `${l}\n`).join("")}`);
  if (p.showGraph) io.stdout.write(`\n${graph.map((l) => `${l}\n`).join("")}`);
  return 0;
}

const IMPORT_USAGE = "usage: hapd crm import --cib FILE.xml [--out FILE.yaml]\n";

/** hapd crm import: converts a Pacemaker CIB's configuration into this project's YAML. */
export async function crmImport(argv: string[], io: CrmIo = defaultIo): Promise<number> {
  const p = parseArgs(argv, new Set(["--cib", "-x", "--out", "-o", "--help", "-h"]));
  if (typeof p === "string") {
    io.stderr.write(`hapd crm import: ${p}\n${IMPORT_USAGE}`);
    return 2;
  }
  if (p.help) {
    io.stdout.write(IMPORT_USAGE);
    return 0;
  }
  if (p.cib === undefined) {
    io.stderr.write(`hapd crm import: --cib is required\n${IMPORT_USAGE}`);
    return 2;
  }
  const text = readInput(p.cib, io);
  if (text === null) return 2;
  const { importCib } = await import("./import.ts");
  let yamlText: string;
  let notes: string[];
  try {
    ({ yaml: yamlText, notes } = importCib(readCib(text, p.cib)));
  } catch (e) {
    return reportError(e, p.cib, io);
  }
  for (const n of notes) io.stderr.write(`hapd crm import: note: ${n}\n`);
  if (p.out !== undefined) {
    const { writeFileSync } = await import("node:fs");
    writeFileSync(p.out, yamlText);
  } else {
    io.stdout.write(yamlText);
  }
  return 0;
}

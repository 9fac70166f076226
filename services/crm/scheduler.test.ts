import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { buildCib } from "../../test/crm/cib-builder.ts";
import { generate } from "../../test/crm/generate.ts";
import { readCib } from "./cib-xml.ts";
import type { TransitionGraph } from "./graph.ts";
import { schedule, transitionSummary } from "./scheduler.ts";
import { crmImport, crmSimulate } from "./simulate-cli.ts";
import { parseCrmYaml } from "./yaml-config.ts";

const NOW = 1_700_000_000;
const dir = mkdtempSync(join(tmpdir(), "hapd-crm-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ancestors(g: TransitionGraph, id: number): Set<number> {
  const seen = new Set<number>();
  const todo = [id];
  while (todo.length > 0) {
    const a = g.actions[todo.pop()!]!;
    for (const i of a.inputs) if (!seen.has(i)) {
      seen.add(i);
      todo.push(i);
    }
  }
  return seen;
}

describe("scheduler properties on generated clusters", () => {
  it("is deterministic", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), (seed) => {
        const s = generate(seed, NOW);
        const a = schedule(readCib(s.xml), { now_s: NOW });
        const b = schedule(readCib(s.xml), { now_s: NOW });
        expect(transitionSummary(a)).toEqual(transitionSummary(b));
        expect(a.graph).toEqual(b.graph);
      }),
      { numRuns: 25 },
    );
  });

  it("never starts a resource that requires fencing before every scheduled fencing is done", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), (seed) => {
        const s = generate(seed, NOW, "node-loss");
        const g = schedule(readCib(s.xml), { now_s: NOW }).graph;
        const fences = g.actions.filter((a) => a.task === "stonith").map((a) => a.id);
        for (const a of g.actions) {
          if (a.pseudo || !["start", "promote", "migrate_to", "migrate_from"].includes(a.task)) continue;
          if (a.resource === "fence-ipmi") continue; // fence devices need quorum only
          const before = ancestors(g, a.id);
          for (const f of fences) expect(before.has(f), `${s.name}: ${a.key} on ${a.node} before fencing`).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("fences a lost node once, with the reason Pacemaker gives", () => {
    const s = generate(3, NOW, "node-loss");
    const t = schedule(readCib(s.xml), { now_s: NOW });
    const fences = t.graph.actions.filter((a) => a.task === "stonith");
    expect(fences.length).toBeLessThanOrEqual(1);
    for (const f of fences) expect(f.reason).toMatch(/peer|unclean|thought to be active/);
  });
});

describe("hapd crm simulate", () => {
  const out = () => {
    const chunks: string[] = [];
    return { chunks, w: { write: (s: string) => chunks.push(s) } };
  };

  it("prints the Transition Summary and, on request, the graph", async () => {
    const s = generate(0, NOW, "node-loss");
    const file = join(dir, "a.xml");
    writeFileSync(file, s.xml);
    const o = out();
    const e = out();
    expect(await crmSimulate(["--cib", file, "--now", String(NOW), "--show-graph"], { stdout: o.w, stderr: e.w })).toBe(0);
    const text = o.chunks.join("");
    expect(text.startsWith("Transition Summary:\n")).toBe(true);
    expect(text).toContain("Fence (reboot)");
    expect(text).toMatch(/Transition Graph: \d+ actions, \d+ orderings/);
  });

  it("exits 2 naming the file, element and reason on bad input", async () => {
    const file = join(dir, "bad.xml");
    writeFileSync(file, "<cib><configuration><resources><primitive id='x' class='ocf' provider='p' type='t'><operations><op id='o' name='monitor' interval='fast'/></operations></primitive></resources></configuration></cib>");
    const o = out();
    const e = out();
    expect(await crmSimulate(["--cib", file], { stdout: o.w, stderr: e.w })).toBe(2);
    expect(e.chunks.join("")).toContain("op[@id='o']: interval='fast' is not a duration");
    expect(await crmSimulate(["--cib", join(dir, "missing.xml")], { stdout: o.w, stderr: e.w })).toBe(2);
    expect(await crmSimulate(["--bogus"], { stdout: o.w, stderr: e.w })).toBe(2);
  });
});

describe("hapd crm import", () => {
  it("turns a CIB into YAML that configures the same cluster", async () => {
    for (const seed of [0, 7, 19, 31]) {
      const s = generate(seed, NOW);
      const file = join(dir, `imp-${seed}.xml`);
      writeFileSync(file, s.xml);
      const yamlFile = join(dir, `imp-${seed}.yaml`);
      const e: string[] = [];
      expect(await crmImport(["--cib", file, "--out", yamlFile], { stdout: { write: () => 0 }, stderr: { write: (x: string) => e.push(x) } })).toBe(0);
      const cfg = parseCrmYaml(readFileSync(yamlFile, "utf8"), yamlFile);
      const input = readCib(s.xml);
      const viaYaml = schedule({ config: cfg, status: input.status }, { now_s: NOW });
      expect(transitionSummary(viaYaml), s.name).toEqual(transitionSummary(schedule(input, { now_s: NOW })));
    }
  });

  it("works on a hand-built cluster description", () => {
    const xml = buildCib({ now_s: NOW, nodes: [{ name: "host-a" }, { name: "host-b" }], resources: [{ id: "web", running: [{ node: "host-a" }] }] });
    expect(transitionSummary(schedule(readCib(xml), { now_s: NOW }))).toEqual([]);
  });
});

describe("bad input never crashes the scheduler", () => {
  const VALUES = ["", "0", "-1", "INFINITY", "-INFINITY", "abc", "999999999999", "true", "Promoted", "10s", "x:y", "host-z", "monitor", "&amp;"];
  it("a CIB with any one attribute value replaced either schedules or is refused with a named element", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.nat(), fc.constantFrom(...VALUES), (seed, pick, value) => {
        const s = generate(seed, NOW);
        const attrs = [...s.xml.matchAll(/="([^"]*)"/g)];
        const hit = attrs[pick % attrs.length]!;
        const xml = `${s.xml.slice(0, hit.index!)}="${value}"${s.xml.slice(hit.index! + hit[0].length)}`;
        try {
          transitionSummary(schedule(readCib(xml), { now_s: NOW }));
        } catch (e) {
          expect((e as Error).name).toMatch(/^(XmlError|ModelError)$/);
          expect((e as Error).message).toMatch(/^(\/cib|cib|input)/);
        }
      }),
      { numRuns: 150 },
    );
  });
});

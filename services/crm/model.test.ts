import { describe, expect, it } from "vitest";
import { type ClusterConfig, INFINITY, ModelError, addScores, parseDuration_ms, parseScore, validateConfig } from "./model.ts";

const prim = (id: string, meta: Record<string, string> = {}) => ({ kind: "primitive" as const, id, class: "ocf" as const, provider: "pacemaker", type: "Dummy", params: {}, meta, utilization: {}, ops: [] });

function config(over: Partial<ClusterConfig>): ClusterConfig {
  return { properties: {}, nodes: [], resources: [prim("a"), prim("b"), prim("c")], constraints: [], rscDefaults: {}, opDefaults: {}, ...over };
}

describe("scores", () => {
  it("add like Pacemaker: -INFINITY wins, sums saturate", () => {
    expect(addScores(INFINITY, -INFINITY)).toBe(-INFINITY);
    expect(addScores(-INFINITY, INFINITY)).toBe(-INFINITY);
    expect(addScores(INFINITY, 5)).toBe(INFINITY);
    expect(addScores(999_999, 10)).toBe(INFINITY);
    expect(addScores(-999_999, -10)).toBe(-INFINITY);
    expect(addScores(100, -30)).toBe(70);
  });
  it("parse INFINITY forms and clamp", () => {
    expect(parseScore("INFINITY")).toBe(INFINITY);
    expect(parseScore("+inf")).toBe(INFINITY);
    expect(parseScore("-INFINITY")).toBe(-INFINITY);
    expect(parseScore("5000000")).toBe(INFINITY);
    expect(parseScore("12")).toBe(12);
    expect(parseScore("twelve")).toBeNull();
  });
  it("durations in the forms Pacemaker accepts", () => {
    expect(parseDuration_ms("10s")).toBe(10_000);
    expect(parseDuration_ms("500ms")).toBe(500);
    expect(parseDuration_ms("2m")).toBe(120_000);
    expect(parseDuration_ms("30")).toBe(30_000);
    expect(parseDuration_ms("PT1M30S")).toBe(90_000);
    expect(parseDuration_ms("P10S")).toBe(10_000);
    expect(parseDuration_ms("soon")).toBeNull();
  });
});

describe("validateConfig", () => {
  it("accepts a simple chain", () => {
    expect(() =>
      validateConfig(
        config({
          constraints: [
            { kind: "order", id: "o1", first: "a", then: "b", firstAction: "start", thenAction: "start", orderKind: "Mandatory" },
            { kind: "colocation", id: "c1", rsc: "b", withRsc: "a", score: INFINITY },
          ],
        }),
      ),
    ).not.toThrow();
  });

  it("rejects an ordering loop and names it", () => {
    const cfg = config({
      constraints: [
        { kind: "order", id: "o1", first: "a", then: "b", firstAction: "start", thenAction: "start", orderKind: "Mandatory" },
        { kind: "order", id: "o2", first: "b", then: "c", firstAction: "start", thenAction: "start", orderKind: "Mandatory" },
        { kind: "order", id: "o3", first: "c", then: "a", firstAction: "start", thenAction: "start", orderKind: "Optional" },
      ],
    });
    expect(() => validateConfig(cfg)).toThrow(/ordering loop: .*a start -> b start -> c start -> a start|ordering loop: .*(a|b|c) (start|stop)/);
  });

  it("rejects a colocation loop and names it", () => {
    const cfg = config({
      constraints: [
        { kind: "colocation", id: "c1", rsc: "a", withRsc: "b", score: 100 },
        { kind: "colocation", id: "c2", rsc: "b", withRsc: "a", score: INFINITY },
      ],
    });
    expect(() => validateConfig(cfg)).toThrow(/colocation loop: a -> b -> a/);
  });

  it("names the constraint that refers to an unknown resource", () => {
    const cfg = config({ constraints: [{ kind: "colocation", id: "c9", rsc: "a", withRsc: "nope", score: 1 }] });
    expect(() => validateConfig(cfg)).toThrow(ModelError);
    expect(() => validateConfig(cfg)).toThrow("constraints[0] (colocation 'c9'): with-rsc 'nope' is not a configured resource");
  });

  it("a migratable resource may depend only on migratable ones (clones are fine)", () => {
    const cfg = config({
      resources: [prim("vm", { "allow-migrate": "true" }), prim("disk"), { kind: "clone", id: "base", meta: {}, promotable: false, child: prim("base-r") }],
      constraints: [{ kind: "order", id: "disk-then-vm", first: "disk", then: "vm", firstAction: "start", thenAction: "start", orderKind: "Mandatory" }],
    });
    expect(() => validateConfig(cfg)).toThrow(/migratable resource 'vm' may depend only on migratable resources, but 'disk' cannot migrate/);
    cfg.constraints = [{ kind: "colocation", id: "vm-with-base", rsc: "vm", withRsc: "base", score: INFINITY }];
    expect(() => validateConfig(cfg)).not.toThrow();
  });

  it("rejects duplicate ids with both places", () => {
    expect(() => validateConfig(config({ resources: [prim("a"), prim("a")] }))).toThrow("resources[1]: duplicate resource id 'a' (first at resources[0])");
  });
});

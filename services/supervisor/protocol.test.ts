import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseLine } from "./protocol.ts";

describe("supervisor socket protocol", () => {
  it("parses the four messages and refuses extra or missing fields", () => {
    expect(parseLine('{"t":"register","service":"cluster","pid":5,"interval_ms":100}')).toEqual({ ok: true, msg: { t: "register", service: "cluster", pid: 5, interval_ms: 100 } });
    expect(parseLine('{"t":"hb"}')).toEqual({ ok: true, msg: { t: "hb" } });
    expect(parseLine('{"t":"hb","x":1}').ok).toBe(false);
    expect(parseLine('{"t":"register","service":"c","pid":-1,"interval_ms":100}').ok).toBe(false);
    expect(parseLine('{"t":"self-fence"}').ok).toBe(false);
  });

  it("never throws on arbitrary input", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (line) => {
        const r = parseLine(line);
        expect(typeof r.ok).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });
});

import { describe, expect, it } from "vitest";
import { digestParams, digestText, opDigest, restartDigest } from "./digest.ts";

// Digests recorded by real Pacemaker nodes (Pacemaker's regression inputs 662 and simple7).
describe("operation digests", () => {
  it("match Pacemaker for an agent without parameters", () => {
    expect(opDigest(digestParams({}, {}, 0, 0))).toBe("f2317cad3d54cec5d7d7aa7d0bf35cf8");
  });
  it("match Pacemaker for a start and a recurring monitor (timeout included)", () => {
    expect(opDigest(digestParams({ ip: "127.0.0.11" }, {}, 0, 0))).toBe("fd54394d262d771b8cb48f31f8df7242");
    expect(opDigest(digestParams({ ip: "127.0.0.11" }, {}, 5000, 20000))).toBe("6d0c707e8887b775eee00abb63b80a67");
  });
  it("keep trailing spaces and escape like Pacemaker", () => {
    expect(opDigest(digestParams({ hostlist: "c001n09 c001n02 c001n03 c001n04 " }, {}, 0, 0))).toBe("248f61816be0aabf2407f333c0f7e50c");
    expect(digestText({ b: "x<y", a: "q\"'&\n" })).toBe(' <parameters a="q&quot;&apos;&amp;\\n" b="x&lt;y"/>\n');
  });
  it("op parameters override the resource's; meta and ids are left out", () => {
    expect(digestParams({ a: "1", CRM_meta_x: "y", id: "z" }, { a: "2", OCF_CHECK_LEVEL: "10" }, 0, 0)).toEqual({ a: "2", OCF_CHECK_LEVEL: "10" });
  });
  it("restart digests keep only the listed parameters", () => {
    expect(restartDigest({ dummy: "1", other: "2" }, " other ")).toBe(opDigest({ other: "2" }));
  });
});

import { describe, expect, it } from "vitest";
import { detectCaps, localeIsUtf8 } from "./caps.ts";

describe("detectCaps", () => {
  it("decides Unicode from the locale, LC_ALL first, then LC_CTYPE, then LANG", () => {
    expect(localeIsUtf8({ LANG: "en_US.UTF-8" })).toBe(true);
    expect(localeIsUtf8({ LC_ALL: "C", LANG: "en_US.UTF-8" })).toBe(false);
    expect(localeIsUtf8({ LC_ALL: "", LC_CTYPE: "de_DE.utf8", LANG: "C" })).toBe(true);
    expect(localeIsUtf8({})).toBe(false);
  });

  it("gives a VT100 attributes but no colour, no DECTCEM and no Unicode, whatever the locale", () => {
    expect(detectCaps({ TERM: "vt100", LANG: "C.UTF-8" })).toEqual({ term: "vt100", dumb: false, attributes: true, colour: false, unicode: false, hideCursor: false });
  });

  it("gives xterm and linux colour and Unicode, and honours NO_COLOR (when not empty)", () => {
    expect(detectCaps({ TERM: "xterm", LANG: "C.UTF-8" })).toMatchObject({ colour: true, unicode: true, hideCursor: true });
    expect(detectCaps({ TERM: "linux", LANG: "C.UTF-8", NO_COLOR: "1" })).toMatchObject({ colour: false, attributes: true, unicode: true });
    expect(detectCaps({ TERM: "xterm", NO_COLOR: "" })).toMatchObject({ colour: true, unicode: false });
  });

  it("gives dumb nothing: no addressing, no attributes", () => {
    expect(detectCaps({ TERM: "dumb", LANG: "C.UTF-8" })).toMatchObject({ dumb: true, attributes: false, colour: false, unicode: false });
  });

  it("treats a missing TERM as a VT100", () => {
    expect(detectCaps({}).term).toBe("vt100");
  });
});

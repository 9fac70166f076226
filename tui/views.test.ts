// Component tests: every screen laid out at 80x24, ASCII where the locale says so, with the
// selection marked by a `>` column (never by attributes alone).
import { Box } from "ink";
import { render } from "ink-testing-library";
import { createElement as h } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { cleanup } from "ink-testing-library";
import { menuBody } from "./admin/menu.ts";
import { statusBody } from "./admin/status-view.ts";
import { currentStep } from "./setup/wizard-reducer.ts";
import { WizardView, wizardModel } from "./setup/wizard-view.ts";
import { detectCaps } from "./terminal/caps.ts";
import { createTheme } from "./terminal/theme.ts";
import { drive, testEnv, toSummary } from "./testing/wizard-script.ts";
import { sampleStatus } from "./testing/fake-ports.ts";
import { Screen } from "./ui/screen.ts";
import { renderAt80x24 } from "./testing/render-80x24.ts";

afterEach(() => cleanup());

const ascii = createTheme(detectCaps({ TERM: "vt100", LANG: "C" }));
const utf8 = createTheme(detectCaps({ TERM: "xterm", LANG: "C.UTF-8" }));
const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

function checkGrid(frame: string): string[] {
  const lines = strip(frame).split("\n");
  expect(lines.length).toBeLessThanOrEqual(24);
  for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
  return lines;
}

describe("wizard screens", () => {
  const env = testEnv("/etc/hapd/hapd.yaml");
  it("fit 80x24 at every step, in ASCII for a C locale, with the focus marked by '>'", () => {
    let s = toSummary(env, "a");
    const seen: string[] = [];
    for (;;) {
      const { step } = currentStep(s, env);
      const { lastFrame } = render(h(WizardView, { state: s, env, theme: ascii }));
      const lines = checkGrid(lastFrame() ?? "");
      expect(lines).toHaveLength(24);
      expect(strip(lastFrame() ?? "")).toMatch(/^[\x20-\x7e\n]*$/);
      if (step.fields.length > 0) expect(lines.some((l) => l.startsWith("> "))).toBe(true);
      seen.push(step.id);
      if (step.id === "welcome") break;
      s = drive(s, env, "<esc>");
    }
    expect(seen).toEqual(["summary", "admin", "time", "disks", "watchdog", "fencing", "peers", "cluster", "links", "management", "identity", "welcome"]);
  });

  it("show the error under the field that has it", () => {
    const s = drive(toSummary(env, "b"), env, "<esc>", "<esc>", "<esc>", "<esc>", "<esc>", "<esc>", "<clear>", "10.71.0.9", "<tab>");
    const lines = wizardModel(s, env).body.map((l) => l.map((x) => x.text).join(""));
    const at = lines.findIndex((l) => l.startsWith("> "));
    expect(lines[at]).toContain("10.71.0.9");
    expect(lines[at + 1]).toContain("! 10.71.0.9 is not in ring0's network 10.70.0.0/24");
  });
});

describe("the common frame", () => {
  it("draws the rule with box-drawing glyphs only where the locale is UTF-8", () => {
    const body = [[{ text: "hello" }]];
    const a = render(h(Screen, { theme: ascii, title: "t", body, hints: [["q", "back"]] })).lastFrame()!;
    const u = render(h(Screen, { theme: utf8, title: "t", body, hints: [["q", "back"]] })).lastFrame()!;
    expect(strip(a)).toContain("-".repeat(80));
    expect(strip(u)).toContain("\u2500".repeat(80));
  });

  it("lays out at 80 columns on its own 80x24 stdout", () => {
    const out = renderAt80x24(h(Box, { flexDirection: "column" }, h(Screen, { theme: ascii, title: "A long title", right: "hapd 0.1.0", body: [[{ text: "x".repeat(120) }]], hints: [] })));
    const lines = checkGrid(out);
    expect(lines[0]).toBe(` ${"A long title".padEnd(68)}hapd 0.1.0 `);
    expect(lines[1]).toBe("x".repeat(80));
  });
});

describe("console screens", () => {
  it("menu: letters shown, > on the selected row", () => {
    const lines = menuBody({ cursor: 2 }, [], []).map((l) => l.map((x) => x.text).join(""));
    expect(lines.filter((l) => l.startsWith(">"))).toEqual([">  M   Move a resource       to the other host"]);
    expect(lines.some((l) => l.includes(" S   Status"))).toBe(true);
  });

  it("status: nodes and links, and what this build does not have, said plainly", () => {
    const lines = statusBody(sampleStatus(), null, 0, 1000).map((l) => l.map((x) => x.text).join(""));
    expect(lines[2]).toBe("Quorum: QUORATE (3/3 votes, 2 needed)");
    expect(lines).toContain("host-b    host        online   up     up     up      ");
    // Resources and volumes do not exist yet; fencing does, and an empty history says so.
    expect(lines.filter((l) => l.includes("not available in this build"))).toHaveLength(2);
    expect(lines.some((l) => /^Fencing\s+none recorded/.test(l))).toBe(true);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
  });

  it("status: recent fencing outcomes and a fence in progress", () => {
    const base = sampleStatus();
    const r = {
      ...base,
      fencing: {
        targets: [{ target: "host-b", state: "retrying" as const, since_wall_ms: 0, executor: "host-a", level: 1 }],
        recent: [{ id: "x", request: "r", target: "host-b", action: "off" as const, reason: "peer is no longer part of the cluster", requester: "host-a", executor: "host-a", phase: "done" as const, result: "ok" as const, at_wall_ms: Date.UTC(2026, 0, 1, 10, 0, 0) }],
      },
    };
    const lines = statusBody(r, null, 0, 1000).map((l) => l.map((x) => x.text).join(""));
    expect(lines.some((l) => /^Fencing\s+host-b retrying \(by host-a, level 1\)/.test(l))).toBe(true);
    expect(lines.some((l) => /\d\d:\d\d:\d\d host-b OFF by host-a/.test(l))).toBe(true);
  });
});

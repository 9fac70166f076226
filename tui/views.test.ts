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
import { sampleCrm, sampleStatus, sampleVolume } from "./testing/fake-ports.ts";
import { initialOp, nodeModeBody, resourcesBody } from "./admin/operations.ts";
import { statusScrollMax } from "./admin/status-view.ts";
import type { ResourceReport } from "../services/node/status.ts";
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
    expect(lines.filter((l) => l.startsWith(">"))).toEqual([">  M   Move a resource       move, clear a move, clean up failures"]);
    expect(lines.some((l) => l.includes(" S   Status"))).toBe(true);
  });

  it("status: nodes and links; no resources and no volumes said plainly", () => {
    const lines = statusBody(sampleStatus(), null, 0, 1000).map((l) => l.map((x) => x.text).join(""));
    expect(lines[2]).toBe("Quorum: QUORATE (3/3 votes, 2 needed)");
    expect(lines).toContain("host-b    host        online   up     up     up      ");
    expect(lines.some((l) => /^Resources\s+no resources configured$/.test(l))).toBe(true);
    expect(lines.some((l) => /^Volumes\s+none on this node$/.test(l))).toBe(true);
    expect(lines.some((l) => /^Fencing\s+none recorded/.test(l))).toBe(true);
    expect(lines.join("\n")).not.toContain("not available in this build");
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

describe("resources and volumes", () => {
  const withCrm = sampleStatus({ crm: sampleCrm(), volumes: [sampleVolume(), sampleVolume({ name: "r1", peer_disk: "UpToDate", connection: "Connected", sync_percent: null, eta_s: null })], cib: { dc: "host-a", term: 3, commit_index: 9, applied_index: 9 } });
  const textOf = (body: ReturnType<typeof statusBody>) => body.map((l) => l.map((x) => x.text).join(""));
  /** The body inside the common frame, laid out by ink on an 80x24 stdout. */
  const frame = (body: ReturnType<typeof statusBody>) => checkGrid(renderAt80x24(h(Screen, { theme: ascii, title: "Status", body, hints: [["q", "back"]] })));

  it("status: where each resource runs, its role and failures, the volume's sync, the DC; within 80x24", () => {
    const lines = frame(statusBody(withCrm, null, 0, 1000));
    expect(lines).toHaveLength(24);
    expect(lines[2]).toMatch(/^View 7: host-a, host-b, arb\s+DC host-a$/);
    expect(lines.find((l) => l.startsWith("host-b "))).toMatch(/\(this node\)|standby$/);
    expect(lines.some((l) => /^vol-r0\s+host-a\s+Promoted\s+-/.test(l))).toBe(true);
    expect(lines.some((l) => /^\s+host-b\s+Unpromoted/.test(l))).toBe(true);
    expect(lines.some((l) => /^vm-db\s+host-a\s+Started\s+host-b:1\s+moved to host-a; monitor rc 7 on h/.test(l))).toBe(true);
    expect(lines.some((l) => /^r0\s+Primary\s+UpToDate\s+Inconsistent\s+SyncSource\s+45\.2% 3m12s$/.test(l))).toBe(true);
    expect(lines.some((l) => /^r1\s+Primary\s+UpToDate\s+UpToDate\s+Connected\s+in sync$/.test(l))).toBe(true);
    // Five resource rows do not fit beside the volumes: the section says which rows it shows.
    expect(lines).toContain("  rows 1-3 of 5; j/k scroll");
  });

  it("status: scrolls the resources, clamped to the last rows", () => {
    expect(statusScrollMax(withCrm)).toBe(2);
    const lines = textOf(statusBody(withCrm, null, 0, 1000, 99));
    expect(lines).toContain("  rows 3-5 of 5; j/k scroll");
    expect(lines.some((l) => /^ip-mgmt\s+-\s+Stopped\s+-\s+target Stopped$/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith("vol-r0"))).toBe(false);
  });

  it("status: everything fits without scrolling when there is room", () => {
    const one = sampleStatus({ crm: sampleCrm({ resources: sampleCrm().resources.slice(2, 3) }) });
    expect(statusScrollMax(one)).toBe(0);
    const lines = textOf(statusBody(one, null, 0, 1000));
    expect(lines.some((l) => /^vm-web\s+host-b\s+Started/.test(l))).toBe(true);
    expect(lines.some((l) => l.includes("j/k scroll"))).toBe(false);
  });

  it("status: an empty resource configuration says so", () => {
    const lines = textOf(statusBody(sampleStatus({ crm: sampleCrm({ resources: [] }) }), null, 0, 1000));
    expect(lines.some((l) => /^Resources\s+no resources configured$/.test(l))).toBe(true);
  });

  it("status: a long id or failure reason is cut to its column, never past 80, and never raw control bytes", () => {
    const long: ResourceReport = { ...sampleCrm().resources[1]!, id: "a-very-long-resource-name-indeed", moved_to: null, last_failure: { node: "host-b", op: "start", rc: 1, reason: `\x1b[2J${"x".repeat(200)}`, at_ms: 0 } };
    const lines = frame(statusBody(sampleStatus({ crm: sampleCrm({ resources: [long] }) }), null, 0, 1000));
    const row = lines.find((l) => l.startsWith("a-very-long-re"))!;
    expect(row).toMatch(/^a-very-long-re host-a/);
    expect(row).toContain("start rc 1 on host-b: ?[2Jxxx");
    expect(row.length).toBe(80);
  });

  it("the resources screen scrolls a long list so that the selection stays in view", () => {
    const many = Array.from({ length: 20 }, (_, i): ResourceReport => ({ ...sampleCrm().resources[2]!, id: `vm-${String(i).padStart(2, "0")}` }));
    const r = sampleStatus({ crm: sampleCrm({ resources: many }) });
    const lines = frame(resourcesBody({ ...initialOp, cursor: 15, outcome: { ok: false, text: "x ".repeat(60) } }, r, ["host-a", "host-b"]));
    expect(lines.filter((l) => l.startsWith("> "))).toEqual([expect.stringMatching(/^> vm-15\s+host-b/)]);
    expect(lines.some((l) => /^ {2}rows \d+-\d+ of 20$/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith("vm-15: ocf:heartbeat:VirtualDomain"))).toBe(true);
    expect(lines[22]).toMatch(/^-+$/);
  });

  it("the resources screen and the node mode screen fit 80x24", () => {
    const res = frame(resourcesBody({ ...initialOp, cursor: 1 }, withCrm, ["host-a", "host-b"]));
    expect(res.filter((l) => l.startsWith("> "))).toEqual([expect.stringMatching(/^> vm-db\s+host-a\s+Started/)]);
    expect(res).toContain("  last failure " + res.find((l) => l.includes("last failure"))!.slice(15));
    const modes = frame(nodeModeBody(initialOp, ["host-a", "host-b"], withCrm, "host-a"));
    expect(modes.some((l) => /^>\s+1\s+host-a\s+online\s+\(this node\)$/.test(l))).toBe(true);
    expect(modes.some((l) => /^\s+2\s+host-b\s+standby\s*$/.test(l))).toBe(true);
  });
});

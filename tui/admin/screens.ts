// The screens behind the menu. Each keeps its state in a reducer from a sibling module (or a
// few lines of local state) and gives the keyboard back with onClose.
import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { createElement as h, type ReactElement, useEffect, useReducer, useRef, useState } from "react";
import type { Config } from "../../services/shared/config.ts";
import type { StatusReport } from "../../services/node/status.ts";
import type { ConsolePorts } from "../ports.ts";
import { joinTokenOf } from "../setup/appliance-file.ts";
import { resetConfiguration } from "../setup/reset-config.ts";
import { describeCaps, type TerminalCaps } from "../terminal/caps.ts";
import type { Theme } from "../terminal/theme.ts";
import { useKeys } from "../ui/key-router.ts";
import { type StyledLine, padEnd, sanitize, seg, wrap } from "../ui/lines.ts";
import { type Hint, Screen } from "../ui/screen.ts";
import { type TypedConfirm, bindTypedKey, bindYesNo, reduceTyped } from "./confirm.ts";
import { LOG_HINTS, bindLogKey, initialLog, logBody, readLogTail, reduceLog } from "./log-view.ts";
import { type Command, NODE_MODES, type OpAction, type OpResult, type OpState, bindOpKey, initialOp, nodeModeBody, nodeModeHints, outcomeOf, reduceNodeMode, reduceResources, resourcesBody, resourcesHints } from "./operations.ts";
import { hostNames, resourcesOf } from "./resources-view.ts";
import { fencingLines, statusBody, statusScrollMax } from "./status-view.ts";

export interface AdminEnv {
  theme: Theme;
  caps: TerminalCaps;
  ports: ConsolePorts;
  configPath: string;
  config: Config;
  version: string;
  title: string;
  right: string;
}

type Common = { env: AdminEnv; onClose: () => void };

const BACK: Hint[] = [["Esc/q", "back"]];

function isBack(k: { name: string; ch?: string }): boolean {
  return k.name === "escape" || (k.name === "char" && (k.ch === "q" || k.ch === "Q"));
}

function Page(p: { env: AdminEnv; title: string; body: StyledLine[]; hints: Hint[] }): ReactElement {
  return h(Screen, { theme: p.env.theme, title: `${p.env.title}: ${p.title}`, right: p.env.right, body: p.body, hints: p.hints });
}

export function StatusScreen(p: Common & { report: StatusReport | null; error: string | null; updated_ms: number | null; refresh_ms: number }): ReactElement {
  // The first resource row shown, when there are more resources than rows; clamped to what the
  // newest report needs, so a shrinking list never leaves the section scrolled past its end.
  const [scroll, setScroll] = useState(0);
  const max = statusScrollMax(p.report);
  useKeys((k) => {
    if (isBack(k)) p.onClose();
    else if (k.name === "down" || (k.name === "char" && k.ch === "j")) setScroll((v) => Math.min(Math.min(v, max) + 1, max));
    else if (k.name === "up" || (k.name === "char" && k.ch === "k")) setScroll((v) => Math.max(Math.min(v, max) - 1, 0));
  });
  const hints: Hint[] = max > 0 ? [["j/k", "scroll resources"], ...BACK] : BACK;
  return h(Page, { env: p.env, title: "Status", body: statusBody(p.report, p.error, p.updated_ms, p.refresh_ms, Math.min(scroll, max)), hints });
}

type OperationProps = Common & { report: StatusReport | null; socket: string };

/** Sends a command through the ports and turns the answer (or the lack of one) into the line the
 * list shows; `live` stops a late answer from reaching a screen that is gone. */
function useSender(env: AdminEnv, socket: string, dispatch: (a: OpAction) => void): (c: Command) => void {
  const live = useRef(true);
  useEffect(
    () => () => {
      live.current = false;
    },
    [],
  );
  return (c: Command) => {
    const sent = c.kind === "node-flags" ? env.ports.setNodeFlags(socket, c.node, NODE_MODES.find((m) => m.mode === c.mode)!.flags) : env.ports.resourceCommand(socket, c.command);
    sent.then(
      (reply) => live.current && dispatch({ type: "reply", outcome: outcomeOf(c, reply) }),
      (e: Error) => live.current && dispatch({ type: "reply", outcome: outcomeOf(c, e) }),
    );
  };
}

/** One reducer step with its effect: the state is kept in a ref as well, so that two keys handled
 * before React renders again both see the newest state. */
function useOperation(reduce: (s: OpState, a: OpAction) => OpResult, p: OperationProps): [OpState, (a: OpAction) => void] {
  const [s, setS] = useState<OpState>(initialOp);
  const ref = useRef(s);
  const dispatch = (a: OpAction) => {
    const r = reduce(ref.current, a);
    ref.current = r.state;
    setS(r.state);
    if (r.send) send(r.send);
    if (r.close) p.onClose();
  };
  const send = useSender(p.env, p.socket, dispatch);
  useKeys((k) => {
    const a = bindOpKey(k, ref.current.step);
    if (a) dispatch(a);
  });
  return [s, dispatch];
}

export function NodeModeScreen(p: OperationProps): ReactElement {
  const hosts = hostNames(p.env.config.nodes);
  const [s] = useOperation((st, a) => reduceNodeMode(st, a, hosts), p);
  return h(Page, { env: p.env, title: "Node mode", body: nodeModeBody(s, hosts, p.report, p.env.config.node), hints: nodeModeHints(s) });
}

export function ResourcesScreen(p: OperationProps): ReactElement {
  const hosts = hostNames(p.env.config.nodes);
  // The list follows the newest report: the reducer reads it through a ref, not a stale closure.
  const resources = useRef(resourcesOf(p.report));
  resources.current = resourcesOf(p.report);
  const [s] = useOperation((st, a) => reduceResources(st, a, resources.current, hosts), p);
  return h(Page, { env: p.env, title: "Resources", body: resourcesBody(s, p.report, hosts), hints: resourcesHints(s) });
}

export function defaultLogPath(cfg: Config): string {
  if (cfg.log_file) return cfg.log_file;
  // The lab (hapd demo) keeps each node's output in node.log beside its configuration.
  return join(dirname(cfg.file), "node.log");
}

export const LOG_RELOAD_MS = 2000;

export function LogScreen(p: Common): ReactElement {
  const [s, dispatch] = useReducer(reduceLog, defaultLogPath(p.env.config), initialLog);
  useKeys((k) => {
    const a = bindLogKey(k, s.editing !== null);
    if (!a) return;
    if (a.type === "close") p.onClose();
    else dispatch(a);
  });
  useEffect(() => {
    const load = () => dispatch({ type: "loaded", ...readLogTail(s.path) });
    load();
    const t = setInterval(() => {
      if (s.follow) load();
    }, LOG_RELOAD_MS);
    return () => clearInterval(t);
  }, [s.path, s.follow]);
  return h(Page, { env: p.env, title: "Log", body: logBody(s), hints: s.editing ? [["Enter", "apply"], ["Esc", "cancel"]] : LOG_HINTS });
}

/** Reads a BMC password file the way the fencing service does: owner-only, one line. */
export function readSecret(file: string): string {
  const mode = statSync(file).mode;
  if ((mode & 0o077) !== 0) throw new Error(`${file}: mode ${(mode & 0o777).toString(8)} lets others read a BMC password; chmod 600 it`);
  return readFileSync(file, "utf8").replace(/\r?\n$/, "");
}

type FenceRow = { node: string; bmc: string; state: "asking" | "ok" | "failed" | "none"; text: string };

export function FencingScreen(p: Common & { report: StatusReport | null }): ReactElement {
  const [rows, setRows] = useState<FenceRow[]>([]);
  const [round, setRound] = useState(1);
  useKeys((k) => {
    if (isBack(k)) p.onClose();
    else if (k.name === "char" && k.ch === "t") setRound((r) => r + 1);
  });
  useEffect(() => {
    let live = true;
    const targets = p.env.config.nodes.filter((n) => n.role === "host");
    const initial: FenceRow[] = targets.map((n) => (n.bmc ? { node: n.name, bmc: `${n.bmc.address}:${n.bmc.port}`, state: "asking", text: "asking..." } : { node: n.name, bmc: "-", state: "none", text: "no BMC configured" }));
    setRows(initial);
    void (async () => {
      for (const [i, n] of targets.entries()) {
        if (!n.bmc) continue;
        let row: FenceRow;
        try {
          const password = readSecret(n.bmc.password_file);
          const text = await p.env.ports.testBmc({ address: n.bmc.address, port: n.bmc.port, user: n.bmc.username, password, cipher: n.bmc.cipher });
          row = { ...initial[i]!, state: "ok", text };
        } catch (e) {
          row = { ...initial[i]!, state: "failed", text: (e as Error).message };
        }
        if (!live) return;
        setRows((old) => old.map((r, j) => (j === i ? row : r)));
      }
    })();
    return () => {
      live = false;
    };
  }, [round]);
  const body: StyledLine[] = [[seg("Each host's BMC is asked for its power status. Nothing is switched.")], []];
  for (const r of rows) {
    body.push([seg(`${r.node.padEnd(8)} BMC ${r.bmc.padEnd(22)}`), seg(r.state === "ok" ? "OK " : r.state === "failed" ? "FAILED " : "", r.state === "ok" ? "ok" : "error"), seg(r.state === "failed" ? "" : sanitize(r.text))]);
    if (r.state === "failed") for (const l of wrap(sanitize(r.text), 74)) body.push([seg(`    ${l}`, "error")]);
  }
  // The node keeps the whole history (`hapd fence history`); its status carries the newest.
  body.push([]);
  if (p.report) body.push(...fencingLines(p.report));
  else body.push([seg(padEnd("Fencing", 12)), seg("history unknown: no status from the node", "dim")]);
  return h(Page, { env: p.env, title: "Test fencing", body, hints: [["t", "test again"], ...BACK] });
}

export function RestartScreen(p: Common): ReactElement {
  const [state, setState] = useState<{ phase: "ask" | "running" | "done"; text: string; ok: boolean }>({ phase: "ask", text: "", ok: false });
  useKeys((k) => {
    if (state.phase === "running") return;
    if (state.phase === "done") {
      if (isBack(k) || k.name === "enter") p.onClose();
      return;
    }
    const yn = bindYesNo(k);
    if (yn === "no") p.onClose();
    if (yn === "yes") {
      setState({ phase: "running", text: "restarting...", ok: false });
      p.env.ports.restartServices(p.env.config).then(
        (text) => setState({ phase: "done", text, ok: true }),
        (e: Error) => setState({ phase: "done", text: e.message, ok: false }),
      );
    }
  });
  const body: StyledLine[] = [[], [seg("Restart hapd's services on this box?", "heading")], [], [seg("Membership drops out for a moment; the other boxes see this box leave and come")], [seg("back. Guests on this host are not stopped by a restart of the services.")], []];
  if (state.phase === "ask") body.push([seg("y", "key"), seg(" restart   "), seg("n", "key"), seg(" / Esc keep running")]);
  else for (const l of wrap(state.text, 76)) body.push([seg(l, state.phase === "running" ? "warn" : state.ok ? "ok" : "error")]);
  return h(Page, { env: p.env, title: "Restart services", body, hints: state.phase === "ask" ? [["y", "restart"], ["n/Esc", "cancel"]] : BACK });
}

export function ResetScreen(p: Common & { onReset: () => void }): ReactElement {
  const expected = p.env.config.node;
  const [s, setS] = useState<TypedConfirm>({ text: "", error: null });
  const [failure, setFailure] = useState<string | null>(null);
  useKeys((k) => {
    const a = bindTypedKey(k);
    if (!a) return;
    const r = reduceTyped(s, a, expected);
    setS(r.state);
    if (r.outcome === "cancelled") p.onClose();
    if (r.outcome === "confirmed") {
      try {
        resetConfiguration(p.env.configPath);
        p.onReset();
      } catch (e) {
        setFailure((e as Error).message);
      }
    }
  });
  const body: StyledLine[] = [
    [],
    [seg("Reset this box to first-boot setup?", "heading")],
    [],
    ...wrap(`${p.env.configPath} and appliance.yaml are renamed aside (to *.reset-<time>) and the setup wizard starts. The services keep running with the old settings until they are restarted.`, 78).map((l) => [seg(sanitize(l))]),
    [],
    [seg(`Type the node name "${expected}" and Enter to confirm, Esc to cancel:`)],
    [seg("  > "), seg(s.text, "field"), seg("_", "selected")],
  ];
  if (s.error) body.push([seg(`  ! ${s.error}`, "error")]);
  if (failure) body.push([seg(`  ! ${failure}`, "error")]);
  return h(Page, { env: p.env, title: "Reset configuration", body, hints: [["Enter", "confirm"], ["Esc", "cancel"]] });
}

export function TokenScreen(p: Common): ReactElement {
  useKeys((k) => {
    if (isBack(k) || k.name === "enter") p.onClose();
  });
  let body: StyledLine[];
  try {
    const token = joinTokenOf(p.env.config.cluster.key_file);
    body = [[], [seg(`To add a box to cluster "${p.env.config.cluster.name}", choose "join" in its setup and type:`)], [], [seg(`  ${token}`, "heading")], [], [seg("The token is the cluster key: whoever has it can join the cluster.", "warn")]];
  } catch (e) {
    body = [[], [seg("No join token:", "error")], ...wrap(sanitize((e as Error).message), 76).map((l) => [seg(l)])];
  }
  return h(Page, { env: p.env, title: "Join token", body, hints: BACK });
}

/** The appliance image (image/) is not built yet, so no booted image records an A/B slot for the
 * console to read; say that rather than guess. */
export const IMAGE_SLOT_UNKNOWN = "unknown (not booted from a hapd image)";

export function AboutScreen(p: Common): ReactElement {
  useKeys((k) => {
    if (isBack(k) || k.name === "enter") p.onClose();
  });
  const c = p.env.config;
  const rows: Array<[string, string]> = [
    ["Version", `hapd ${p.env.version}`],
    ["Image slot", IMAGE_SLOT_UNKNOWN],
    ["Node", `${c.node} in cluster ${c.cluster.name}`],
    ["Configuration", p.env.configPath],
    ["Terminal", describeCaps(p.env.caps)],
    ["Keys", "letters as shown; Tab/^N ^P move; Esc back; ^L redraw; ^C leave"],
  ];
  const body: StyledLine[] = [[]];
  for (const [k, v] of rows) body.push([seg(`  ${k.padEnd(15)}`, "heading"), seg(sanitize(v))]);
  return h(Page, { env: p.env, title: "About", body, hints: BACK });
}

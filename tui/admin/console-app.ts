// After setup: the lock screen, the menu and the screens behind it, and one poller that keeps
// the node's status for the menu line and the status screen.
import { createElement as h, type ReactElement, useEffect, useState } from "react";
import { statusSocketPath } from "../../services/node/runtime.ts";
import type { StatusReport } from "../../services/node/status.ts";
import type { ApplianceInfo } from "../setup/appliance-file.ts";
import { useKeys } from "../ui/key-router.ts";
import { type StyledLine, seg } from "../ui/lines.ts";
import { Screen } from "../ui/screen.ts";
import { LoginScreen } from "./login.ts";
import { MENU, type MenuId, type MenuState, bindMenuKey, menuBody, reduceMenu } from "./menu.ts";
import { AboutScreen, type AdminEnv, FencingScreen, LogScreen, NodeModeScreen, ResetScreen, ResourcesScreen, RestartScreen, StatusScreen, TokenScreen } from "./screens.ts";
import { statusSummary } from "./status-view.ts";

export interface ConsoleAppProps {
  env: AdminEnv;
  appliance: ApplianceInfo;
  /** Straight after setup the operator has just set the password: no need to type it again. */
  startUnlocked: boolean;
  refresh_ms: number;
  onReset: () => void;
}

interface Polled {
  report: StatusReport | null;
  error: string | null;
  updated_ms: number | null;
}

function usePolledStatus(env: AdminEnv, active: boolean, refresh_ms: number): Polled {
  const [p, setP] = useState<Polled>({ report: null, error: null, updated_ms: null });
  useEffect(() => {
    if (!active) return undefined;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const socket = statusSocketPath(env.config);
    const poll = () => {
      env.ports.queryStatus(socket).then(
        (report) => live && setP({ report, error: null, updated_ms: Date.now() }),
        (e: Error) => live && setP((old) => ({ ...old, error: e.message })),
      ).finally(() => {
        if (live) timer = setTimeout(poll, refresh_ms);
      });
    };
    poll();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [active, refresh_ms]);
  return p;
}

function MenuScreen(p: { env: AdminEnv; state: MenuState; setState: (s: MenuState) => void; open: (id: MenuId) => void; statusLine: StyledLine; note: StyledLine }): ReactElement {
  const [hint, setHint] = useState<string | null>(null);
  useKeys((k) => {
    const a = bindMenuKey(k);
    if (!a) return;
    if (a.type === "unknown") {
      setHint(`"${a.ch}" is not a menu key: use ${MENU.map((m) => m.key.toUpperCase()).join(" ")}`);
      return;
    }
    setHint(null);
    const r = reduceMenu(p.state, a);
    p.setState(r.state);
    if (r.open) p.open(r.open);
  });
  const note = hint ? [seg(hint, "error")] : p.note;
  return h(Screen, { theme: p.env.theme, title: p.env.title, right: p.env.right, body: menuBody(p.state, p.statusLine, note), hints: [["letter", "open"], ["Up/Down", "move"], ["Enter", "open"], ["^C", "leave"]] });
}

export function ConsoleApp(p: ConsoleAppProps): ReactElement {
  const { env, appliance } = p;
  const lockable = appliance.admin !== null;
  const [unlocked, setUnlocked] = useState(p.startUnlocked || !lockable);
  const [screen, setScreen] = useState<MenuId | "menu">("menu");
  const [menu, setMenu] = useState<MenuState>({ cursor: 0 });
  const status = usePolledStatus(env, unlocked, p.refresh_ms);

  if (!unlocked) {
    return h(LoginScreen, {
      theme: env.theme,
      title: env.title,
      right: env.right,
      note: appliance.error,
      verify: (pw: string) => env.ports.verifyPassword(pw, appliance.admin!),
      onUnlock: () => {
        setScreen("menu");
        setUnlocked(true);
      },
    });
  }
  const close = () => setScreen("menu");
  const common = { env, onClose: close };
  switch (screen) {
    case "status":
      return h(StatusScreen, { ...common, ...status, refresh_ms: p.refresh_ms });
    case "node-mode":
      return h(NodeModeScreen, { ...common, report: status.report, socket: statusSocketPath(env.config) });
    case "move":
      return h(ResourcesScreen, { ...common, report: status.report, socket: statusSocketPath(env.config) });
    case "fencing":
      return h(FencingScreen, { ...common, report: status.report });
    case "log":
      return h(LogScreen, common);
    case "restart":
      return h(RestartScreen, common);
    case "token":
      return h(TokenScreen, common);
    case "reset":
      return h(ResetScreen, { ...common, onReset: p.onReset });
    case "about":
      return h(AboutScreen, common);
    default: {
      const note: StyledLine = lockable ? [] : [seg(appliance.error ?? `No admin password is set (no ${appliance.path}): the console is not locked.`, "warn")];
      const open = (id: MenuId) => {
        if (id !== "lock") setScreen(id);
        else if (lockable) setUnlocked(false);
      };
      return h(MenuScreen, { env, state: menu, setState: setMenu, open, statusLine: statusSummary(status.report, status.error), note });
    }
  }
}

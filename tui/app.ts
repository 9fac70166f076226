// The console's root: first-boot setup or the console menu, the Ctrl-C question, and the
// message for a terminal smaller than 80x24. Screens below it never see Ctrl-C or Ctrl-L.
import { existsSync } from "node:fs";
import { Box } from "ink";
import { createElement as h, type ReactElement, useEffect, useState } from "react";
import { type Config, ConfigError, loadConfig } from "../services/shared/config.ts";
import { ConsoleApp } from "./admin/console-app.ts";
import { bindYesNo } from "./admin/confirm.ts";
import type { AdminEnv } from "./admin/screens.ts";
import type { ConsolePorts } from "./ports.ts";
import { type ApplianceInfo, loadAppliance } from "./setup/appliance-file.ts";
import { encodeJoinToken } from "./setup/join-token.ts";
import { resetConfiguration } from "./setup/reset-config.ts";
import type { WizardEnv } from "./setup/steps.ts";
import { WizardScreen } from "./setup/wizard-screen.ts";
import type { TerminalCaps } from "./terminal/caps.ts";
import type { Theme } from "./terminal/theme.ts";
import { type KeyRouter, KeyRouterContext, useKeys } from "./ui/key-router.ts";
import { COLS, ROWS, type StyledLine, seg, wrap } from "./ui/lines.ts";
import { Screen, TooSmall } from "./ui/screen.ts";

export interface Size {
  cols: number;
  rows: number;
}

export interface AppProps {
  theme: Theme;
  caps: TerminalCaps;
  ports: ConsolePorts;
  configPath: string;
  version: string;
  router: KeyRouter;
  size: { get(): Size; subscribe(listener: () => void): () => void };
  /** Status poll interval of the console menu and status screen. */
  refresh_ms: number;
  repaint(): void;
  exit(code: number): void;
}

type Phase =
  | { kind: "wizard"; env: WizardEnv; run: number }
  | { kind: "console"; config: Config; appliance: ApplianceInfo; fresh: boolean }
  | { kind: "broken"; error: string };

export function decidePhase(configPath: string, ports: ConsolePorts, fresh: boolean, run = 1): Phase {
  if (!existsSync(configPath)) {
    const newKey = ports.randomKey();
    return { kind: "wizard", env: { system: ports.probeSystem(), newKey, newToken: encodeJoinToken(newKey), configPath }, run };
  }
  try {
    return { kind: "console", config: loadConfig(configPath), appliance: loadAppliance(configPath), fresh };
  } catch (e) {
    return { kind: "broken", error: e instanceof ConfigError ? e.message : `${configPath}: ${(e as Error).message}` };
  }
}

function BrokenScreen(p: { theme: Theme; configPath: string; error: string; onReset: () => void; title: string; right: string }): ReactElement {
  const [typed, setTyped] = useState("");
  const [failure, setFailure] = useState<string | null>(null);
  useKeys((k) => {
    if (k.name === "char") setTyped((t) => (t + (k.ch ?? "")).slice(0, 16));
    else if (k.name === "backspace") setTyped((t) => t.slice(0, -1));
    else if (k.name === "enter") {
      if (typed !== "reset") {
        setFailure('type "reset" to start the setup again');
        setTyped("");
        return;
      }
      try {
        resetConfiguration(p.configPath);
        p.onReset();
      } catch (e) {
        setFailure((e as Error).message);
      }
    }
  });
  const body: StyledLine[] = [[], [seg("The node configuration cannot be used:", "error")], []];
  for (const l of wrap(p.error, 76)) body.push([seg(`  ${l}`)]);
  body.push([], [seg("Fix the file (the services refuse it too), or type "), seg("reset", "key"), seg(" and Enter to move it")], [seg("aside and run the setup again:")], [seg("  > "), seg(typed, "field"), seg("_", "selected")]);
  if (failure) body.push([seg(`  ! ${failure}`, "error")]);
  return h(Screen, { theme: p.theme, title: p.title, right: p.right, body, hints: [["Enter", "confirm"], ["^C", "leave"]] });
}

function QuitKeys(p: { onAnswer: (leave: boolean) => void }): null {
  useKeys((k) => {
    const yn = bindYesNo(k);
    if (yn) p.onAnswer(yn === "yes");
  });
  return null;
}

function QuitScreen(p: { theme: Theme; title: string; right: string }): ReactElement {
  const body: StyledLine[] = [[], [], [seg("Leave the hapd console?", "heading")], [], [seg("y", "key"), seg(" leave   "), seg("n", "key"), seg(" / Esc stay")], [], [seg("Nothing that was not applied is kept.", "dim")]];
  return h(Screen, { theme: p.theme, title: p.title, right: p.right, body, hints: [["y", "leave"], ["n/Esc", "stay"]] });
}

export function App(p: AppProps): ReactElement {
  const [phase, setPhase] = useState<Phase>(() => decidePhase(p.configPath, p.ports, false));
  const [quitting, setQuitting] = useState(false);
  const [size, setSize] = useState<Size>(p.size.get());
  useEffect(() => p.size.subscribe(() => setSize(p.size.get())), []);
  const small = size.cols < COLS || size.rows < ROWS;

  useEffect(() => {
    p.router.intercept = (k) => {
      if (k.name === "ctrl" && k.ch === "l") {
        p.repaint();
        return true;
      }
      if (k.name === "ctrl" && k.ch === "c") {
        setQuitting(true);
        return true;
      }
      // Keys typed blind into a screen that is not shown would change it unseen.
      if (small && !quitting) return true;
      return false;
    };
  }, [small, quitting]);

  const right = `hapd ${p.version}`;
  const nodeTitle = phase.kind === "console" ? `hapd console: ${phase.config.node} (cluster ${phase.config.cluster.name})` : "hapd console";
  let main: ReactElement;
  if (phase.kind === "wizard") {
    main = h(WizardScreen, { key: `wizard-${phase.run}`, env: phase.env, theme: p.theme, ports: p.ports, onDone: () => setPhase(decidePhase(p.configPath, p.ports, true)) });
  } else if (phase.kind === "console") {
    const env: AdminEnv = { theme: p.theme, caps: p.caps, ports: p.ports, configPath: p.configPath, config: phase.config, version: p.version, title: nodeTitle, right };
    main = h(ConsoleApp, { env, appliance: phase.appliance, startUnlocked: phase.fresh, refresh_ms: p.refresh_ms, onReset: () => setPhase(decidePhase(p.configPath, p.ports, false, Date.now())) });
  } else {
    main = h(BrokenScreen, { theme: p.theme, configPath: p.configPath, error: phase.error, title: "hapd console", right, onReset: () => setPhase(decidePhase(p.configPath, p.ports, false, Date.now())) });
  }
  return h(
    KeyRouterContext.Provider,
    { value: p.router },
    h(
      Box,
      { flexDirection: "column" },
      h(Box, { display: small || quitting ? "none" : "flex", flexDirection: "column" }, main),
      quitting ? h(QuitKeys, { onAnswer: (leave: boolean) => (leave ? p.exit(0) : setQuitting(false)) }) : null,
      quitting && !small ? h(QuitScreen, { theme: p.theme, title: nodeTitle, right }) : null,
      small ? h(TooSmall, { theme: p.theme, cols: size.cols, rows: size.rows, quitting }) : null,
    ),
  );
}

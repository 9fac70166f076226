// The wizard's controller: the reducer, the key binding, and the effects (BMC and watchdog
// Tests, Apply) carried out through the ports.
import { createElement as h, type ReactElement, useEffect, useReducer, useRef } from "react";
import type { ConsolePorts } from "../ports.ts";
import type { Theme } from "../terminal/theme.ts";
import { useKeys } from "../ui/key-router.ts";
import { parseWatchdogConfig } from "../../services/watchdog/index.ts";
import { planSetupFiles, watchdogSection } from "./setup-files.ts";
import { DEFAULT_BMC_PORT, type WizardEnv } from "./steps.ts";
import { parseEndpoint } from "./validate.ts";
import { bindWizardKey } from "./wizard-bind.ts";
import { type Effect, type WizardAction, type WizardState, initialWizard, reduceWizard } from "./wizard-reducer.ts";
import { WizardView } from "./wizard-view.ts";

export interface WizardScreenProps {
  env: WizardEnv;
  theme: Theme;
  ports: ConsolePorts;
  /** Called once the operator has seen the result of Apply. */
  onDone: () => void;
}

export async function runWizardEffect(effect: Effect, s: WizardState, env: WizardEnv, ports: ConsolePorts): Promise<WizardAction> {
  const v = s.values;
  try {
    if (effect.kind === "bmc-test") {
      const p = `bmc.${effect.node}.`;
      const ep = parseEndpoint(v[`${p}address`] ?? "", DEFAULT_BMC_PORT);
      if (!ep) throw new Error("the BMC address is not valid");
      const text = await ports.testBmc({ address: ep.address, port: ep.port, user: v[`${p}user`] ?? "", password: v[`${p}password`] ?? "", cipher: v[`${p}cipher`] === "3" ? 3 : 17 });
      return { type: "result", field: effect.field, ok: true, text };
    }
    if (effect.kind === "watchdog-test") {
      const cfg = parseWatchdogConfig(watchdogSection(v), "the wizard", "watchdog");
      if (cfg.kind === "none") return { type: "result", field: effect.field, ok: true, text: "no watchdog: nothing to test" };
      const text = await ports.testWatchdog(cfg, cfg.kind === "ipmi" ? (v[`bmc.${v.role}.password`] ?? null) : null);
      return { type: "result", field: effect.field, ok: true, text };
    }
    const hash = await ports.hashPassword(v["admin.password"] ?? "");
    const files = planSetupFiles(v, env, hash);
    ports.writeFiles(files);
    return { type: "applied", files: files.map((f) => f.path) };
  } catch (e) {
    const message = (e as Error).message || String(e);
    if (effect.kind === "apply") return { type: "apply-failed", error: message };
    return { type: "result", field: effect.field, ok: false, text: message };
  }
}

export function WizardScreen(p: WizardScreenProps): ReactElement {
  const [state, dispatch] = useReducer((s: WizardState, a: WizardAction) => reduceWizard(s, a, p.env), p.env, initialWizard);
  const handled = useRef(0);
  const live = useRef(true);
  useEffect(
    () => () => {
      live.current = false;
    },
    [],
  );
  useKeys((k) => {
    const a = bindWizardKey(k);
    if (a) dispatch(a);
  });
  useEffect(() => {
    const pending = state.pending;
    if (!pending || pending.seq <= handled.current) return;
    handled.current = pending.seq;
    void runWizardEffect(pending.effect, state, p.env, p.ports).then((a) => {
      if (live.current) dispatch(a);
    });
  }, [state.pending]);
  useEffect(() => {
    if (state.phase === "finished") p.onDone();
  }, [state.phase]);
  return h(WizardView, { state, env: p.env, theme: p.theme });
}

// Drives the wizard reducer the way a keyboard would, for tests: text is typed character by
// character, and a few words stand for keys.
import { encodeJoinToken } from "../setup/join-token.ts";
import type { WizardEnv } from "../setup/steps.ts";
import { type WizardAction, type WizardState, currentStep, initialWizard, reduceWizard } from "../setup/wizard-reducer.ts";
import { FIXED_SYSTEM } from "./fixed-system.ts";

export function testEnv(configPath = "/tmp/hapd-test/hapd.yaml", overrides: Partial<WizardEnv> = {}): WizardEnv {
  const newKey = new Uint8Array(32).fill(7);
  return { system: FIXED_SYSTEM, newKey, newToken: encodeJoinToken(newKey), configPath, ...overrides };
}

const KEYS: Record<string, WizardAction> = {
  "<enter>": { type: "enter" },
  "<tab>": { type: "next" },
  "<prev>": { type: "prev" },
  "<esc>": { type: "back" },
  "<clear>": { type: "clear" },
  "<bs>": { type: "backspace" },
  "<up>": { type: "up" },
  "<down>": { type: "down" },
  "<left>": { type: "cycle", dir: -1 },
  "<right>": { type: "cycle", dir: 1 },
};

/** Each item is a key word from KEYS, or text to type. */
export function drive(s: WizardState, env: WizardEnv, ...items: string[]): WizardState {
  for (const item of items) {
    const key = KEYS[item];
    if (key) s = reduceWizard(s, key, env);
    else for (const ch of item) s = reduceWizard(s, { type: "char", ch }, env);
  }
  return s;
}

/** A whole, valid run for a role up to the summary. */
export function toSummary(env: WizardEnv, role: "a" | "b" | "r", mode: "create" | "join" = "create", token = ""): WizardState {
  let s = initialWizard(env);
  const host = role !== "r";
  const me = role === "a" ? 1 : role === "b" ? 2 : 3;
  s = drive(s, env, "<enter>", "<clear>", `box-${role}`, "<tab>", role, "<enter>");
  s = drive(s, env, "<enter>", "<enter>", "<enter>");
  s = drive(s, env, "2", "<tab>", `10.70.0.${me}/24`, "<tab>", "3", "<tab>", `10.71.0.${me}/24`, "<tab>", "<enter>");
  if (host) s = drive(s, env, "<clear>", "/dev/null", "<enter>");
  s = drive(s, env, mode === "create" ? "c" : "j", "<tab>", "prod", "<enter>");
  if (mode === "join") s = drive(s, env, token, "<tab>", "10.70.0.1", "<enter>");
  for (const other of [1, 2, 3].filter((n) => n !== me)) s = drive(s, env, `10.70.0.${other}`, "<tab>", `10.71.0.${other}`, "<enter>");
  for (const bmc of ["10.0.0.11", "10.0.0.12"]) s = drive(s, env, bmc, "<tab>", "admin", "<tab>", "secret", "<tab>", "<tab>", "<tab>");
  s = drive(s, env, "<enter>");
  s = drive(s, env, "<enter>", "<enter>", "<enter>");
  if (host) s = drive(s, env, "2", "<enter>");
  s = drive(s, env, "pool.ntp.org", "<enter>", "correct horse", "<tab>", "correct horse", "<enter>");
  const step = currentStep(s, env).step.id;
  if (step !== "summary") throw new Error(`script ended on step ${step} with errors ${JSON.stringify(s.errors)}`);
  return s;
}

// The wizard as a pure reducer: (state, action, env) -> state. No I/O: a Test or Apply is put in
// `pending` for the controller to carry out, and its outcome comes back as an action.
import { type Field, type HostName, type Step, type StepId, type Values, type WizardEnv, buildSteps, focusable } from "./steps.ts";

/** Work the reducer asks the controller to do; the outcome comes back as an action. */
export type Effect = { kind: "bmc-test"; field: string; node: HostName } | { kind: "watchdog-test"; field: string } | { kind: "apply" };

export interface ActionResult {
  state: "running" | "ok" | "failed";
  text: string;
}

export interface WizardState {
  step: StepId;
  focus: string | null;
  values: Values;
  errors: Record<string, string>;
  results: Record<string, ActionResult>;
  /** Row of the focused multi-select list. */
  multiCursor: number;
  /** First summary line shown. */
  scroll: number;
  phase: "editing" | "applying" | "applied" | "finished";
  applyError: string | null;
  written: string[];
  pending: { seq: number; effect: Effect } | null;
  seq: number;
}

export type WizardAction =
  | { type: "char"; ch: string }
  | { type: "backspace" }
  | { type: "clear" }
  | { type: "next" }
  | { type: "prev" }
  | { type: "up" }
  | { type: "down" }
  | { type: "page"; dir: 1 | -1 }
  | { type: "cycle"; dir: 1 | -1 }
  | { type: "enter" }
  | { type: "back" }
  | { type: "result"; field: string; ok: boolean; text: string }
  | { type: "applied"; files: string[] }
  | { type: "apply-failed"; error: string };

export const MAX_FIELD_CHARS = 128;
const SUMMARY_PAGE = 10;

export function initialWizard(env: WizardEnv): WizardState {
  const s: WizardState = {
    step: "welcome",
    focus: null,
    values: {},
    errors: {},
    results: {},
    multiCursor: 0,
    scroll: 0,
    phase: "editing",
    applyError: null,
    written: [],
    pending: null,
    seq: 0,
  };
  return withDefaults(s, env);
}

export function currentStep(s: WizardState, env: WizardEnv): { step: Step; index: number; steps: Step[] } {
  const steps = buildSteps(s.values, env);
  let index = steps.findIndex((x) => x.id === s.step);
  if (index < 0) index = 0;
  return { step: steps[index]!, index, steps };
}

function withDefaults(s: WizardState, env: WizardEnv): WizardState {
  const { step } = currentStep(s, env);
  let values = s.values;
  for (const f of step.fields) {
    if (values[f.id] === undefined && f.kind !== "info" && f.kind !== "action") {
      values = { ...values, [f.id]: f.default ?? "" };
    }
  }
  let focus = s.focus;
  const able = step.fields.filter(focusable);
  if (!able.some((f) => f.id === focus)) focus = able[0]?.id ?? null;
  return values === s.values && focus === s.focus ? s : { ...s, values, focus };
}

function fieldOf(s: WizardState, env: WizardEnv): { field: Field | null; step: Step; able: Field[]; at: number; steps: Step[]; index: number } {
  const { step, steps, index } = currentStep(s, env);
  const able = step.fields.filter(focusable);
  const at = able.findIndex((f) => f.id === s.focus);
  return { field: at >= 0 ? able[at]! : null, step, able, at, steps, index };
}

function setValue(s: WizardState, id: string, value: string): WizardState {
  const errors = { ...s.errors };
  delete errors[id];
  const results = { ...s.results };
  // A changed BMC setting makes an earlier Test result stale.
  const m = /^bmc\.([a-z-]+)\./.exec(id);
  if (m) delete results[`bmc.${m[1]}.test`];
  if (id === "watchdog.driver" || id === "watchdog.timeout") delete results["watchdog.test"];
  return { ...s, values: { ...s.values, [id]: value }, errors, results };
}

function setError(s: WizardState, id: string, error: string): WizardState {
  return { ...s, focus: id, errors: { ...s.errors, [id]: error } };
}

function validateField(s: WizardState, f: Field): string | null {
  if (!f.validate) return null;
  return f.validate(s.values[f.id] ?? "", s.values);
}

/** Moves the focus forward after checking the field being left; an error keeps the focus there. */
function leaveForward(s0: WizardState, env: WizardEnv, completeStep: boolean): WizardState {
  const { field, able, at, step, steps, index } = fieldOf(s0, env);
  let s = s0;
  if (field) {
    const err = validateField(s, field);
    if (err) return setError(s, field.id, err);
    if (s.errors[field.id]) {
      const errors = { ...s.errors };
      delete errors[field.id];
      s = { ...s, errors };
    }
    if (at < able.length - 1) return { ...s, focus: able[at + 1]!.id, multiCursor: 0 };
    if (!completeStep) return s;
  }
  // Leaving the step: every field, then the checks across fields.
  for (const f of able) {
    const err = validateField(s, f);
    if (err) return setError(s, f.id, err);
  }
  const cross = step.validateStep?.(s.values);
  if (cross) return setError(s, cross.field, cross.error);
  const next = steps[index + 1];
  if (!next) return s;
  return withDefaults({ ...s, step: next.id, focus: null, multiCursor: 0, scroll: 0, applyError: null }, env);
}

function choiceKey(s: WizardState, f: Field, ch: string): WizardState {
  const opts = f.options ?? [];
  const opt = opts.find((o) => o.key === ch.toLowerCase());
  if (!opt) {
    const keys = opts.map((o) => o.key).join(", ");
    return setError(s, f.id, `press ${keys} (or Space, Left/Right to change)`);
  }
  if (opt.disabled) return setError(s, f.id, opt.disabled);
  return setValue(s, f.id, opt.value);
}

function cycle(s: WizardState, f: Field, dir: 1 | -1): WizardState {
  const opts = (f.options ?? []).filter((o) => !o.disabled);
  if (opts.length === 0) return s;
  const at = opts.findIndex((o) => o.value === s.values[f.id]);
  const next = at < 0 ? (dir > 0 ? 0 : opts.length - 1) : (at + dir + opts.length) % opts.length;
  return setValue(s, f.id, opts[next]!.value);
}

function toggle(s: WizardState, f: Field, index: number): WizardState {
  const opt = f.options?.[index];
  if (!opt) return s;
  if (opt.disabled) return { ...setError(s, f.id, opt.disabled), multiCursor: index };
  const chosen = new Set((s.values[f.id] ?? "").split(",").filter(Boolean));
  if (chosen.has(opt.value)) chosen.delete(opt.value);
  else chosen.add(opt.value);
  const ordered = (f.options ?? []).map((o) => o.value).filter((v) => chosen.has(v));
  return { ...setValue(s, f.id, ordered.join(",")), multiCursor: index };
}

function runAction(s: WizardState, f: Field, env: WizardEnv): WizardState {
  if (!f.action) return s;
  if (s.results[f.id]?.state === "running") return s;
  const seq = s.seq + 1;
  const effect: Effect =
    f.action.kind === "bmc-test" ? { kind: "bmc-test", field: f.id, node: f.action.node } : { kind: "watchdog-test", field: f.id };
  if (f.action.kind === "watchdog-test") {
    const timeout = fieldOf(s, env).able.find((g) => g.id === "watchdog.timeout");
    const err = timeout ? validateField(s, timeout) : null;
    if (err) return setError(s, "watchdog.timeout", err);
  }
  if (f.action.kind === "bmc-test") {
    // The Test needs what it tests: check the BMC fields above it first.
    const prefix = `bmc.${f.action.node}.`;
    for (const g of fieldOf(s, env).able) {
      if (!g.id.startsWith(prefix) || g.kind === "action") continue;
      const err = validateField(s, g);
      if (err) return setError(s, g.id, err);
    }
  }
  return { ...s, seq, pending: { seq, effect }, results: { ...s.results, [f.id]: { state: "running", text: "asking..." } } };
}

export function reduceWizard(s0: WizardState, a: WizardAction, env: WizardEnv): WizardState {
  const s = reduce(s0, a, env);
  return s === s0 ? s : withDefaults(s, env);
}

function reduce(s: WizardState, a: WizardAction, env: WizardEnv): WizardState {
  if (a.type === "result") {
    return { ...s, results: { ...s.results, [a.field]: { state: a.ok ? "ok" : "failed", text: a.text } } };
  }
  if (a.type === "applied") return { ...s, phase: "applied", written: a.files, applyError: null };
  if (a.type === "apply-failed") return { ...s, phase: "editing", applyError: a.error };
  if (s.phase === "applying" || s.phase === "finished") return s;
  if (s.phase === "applied") return a.type === "enter" ? { ...s, phase: "finished" } : s;

  const { field, able, at, step, steps, index } = fieldOf(s, env);
  if (step.id === "summary") {
    switch (a.type) {
      case "enter": {
        const seq = s.seq + 1;
        return { ...s, phase: "applying", applyError: null, seq, pending: { seq, effect: { kind: "apply" } } };
      }
      case "back":
        return withDefaults({ ...s, step: steps[index - 1]!.id, focus: null }, env);
      case "up":
      case "prev":
        return { ...s, scroll: Math.max(0, s.scroll - 1) };
      case "down":
      case "next":
        return { ...s, scroll: Math.min(100, s.scroll + 1) };
      case "page":
        return { ...s, scroll: Math.min(100, Math.max(0, s.scroll + a.dir * SUMMARY_PAGE)) };
      case "char":
        if (a.ch === "k") return { ...s, scroll: Math.max(0, s.scroll - 1) };
        if (a.ch === "j") return { ...s, scroll: Math.min(100, s.scroll + 1) };
        return s;
      default:
        return s;
    }
  }

  switch (a.type) {
    case "back":
      if (index === 0) return s;
      return withDefaults({ ...s, step: steps[index - 1]!.id, focus: null, multiCursor: 0 }, env);
    case "enter":
      return leaveForward(s, env, true);
    case "next":
      return leaveForward(s, env, false);
    case "prev":
      if (at > 0) return { ...s, focus: able[at - 1]!.id, multiCursor: 0 };
      return s;
    case "up":
      if (field?.kind === "multi" && s.multiCursor > 0) return { ...s, multiCursor: s.multiCursor - 1 };
      if (at > 0) return { ...s, focus: able[at - 1]!.id, multiCursor: 0 };
      return s;
    case "down":
      if (field?.kind === "multi" && s.multiCursor < (field.options?.length ?? 0) - 1) return { ...s, multiCursor: s.multiCursor + 1 };
      return leaveForward(s, env, false);
    case "page":
      return s;
    case "cycle":
      if (field?.kind === "choice") return cycle(s, field, a.dir);
      return s;
    case "backspace":
    case "clear":
      if (field && (field.kind === "text" || field.kind === "password")) {
        const v = s.values[field.id] ?? "";
        return setValue(s, field.id, a.type === "clear" ? "" : v.slice(0, -1));
      }
      return s;
    case "char": {
      if (!field) return s;
      if (field.kind === "text" || field.kind === "password") {
        if (!/^[\x20-\x7e]$/.test(a.ch)) return setError(s, field.id, "only plain ASCII characters can be typed here");
        const v = s.values[field.id] ?? "";
        if (v.length >= MAX_FIELD_CHARS) return setError(s, field.id, `at most ${MAX_FIELD_CHARS} characters`);
        return setValue(s, field.id, v + a.ch);
      }
      if (field.kind === "choice") return a.ch === " " ? cycle(s, field, 1) : choiceKey(s, field, a.ch);
      if (field.kind === "multi") {
        if (a.ch === " ") return toggle(s, field, s.multiCursor);
        const i = (field.options ?? []).findIndex((o) => o.key === a.ch.toLowerCase());
        if (i < 0) return setError(s, field.id, "press a disk's number, or Space on the marked one");
        return toggle(s, field, i);
      }
      if (field.kind === "action" && (a.ch === " " || a.ch.toLowerCase() === "t")) return runAction(s, field, env);
      return s;
    }
  }
  return s;
}

// Confirmations: a typed one for what cannot be undone from the console (reset), a y/n one for
// the rest (restart, leaving the console).
import type { Key } from "../terminal/key-parser.ts";

export interface TypedConfirm {
  text: string;
  error: string | null;
}

export type TypedAction = { type: "char"; ch: string } | { type: "backspace" } | { type: "enter" } | { type: "cancel" };

export function bindTypedKey(k: Key): TypedAction | null {
  if (k.name === "char") return { type: "char", ch: k.ch ?? "" };
  if (k.name === "backspace") return { type: "backspace" };
  if (k.name === "enter") return { type: "enter" };
  if (k.name === "escape") return { type: "cancel" };
  return null;
}

/** The new state, and whether the operator confirmed (typed exactly `expected`) or cancelled. */
export function reduceTyped(s: TypedConfirm, a: TypedAction, expected: string): { state: TypedConfirm; outcome: "confirmed" | "cancelled" | null } {
  switch (a.type) {
    case "char":
      return { state: { text: (s.text + a.ch).slice(0, 64), error: null }, outcome: null };
    case "backspace":
      return { state: { text: s.text.slice(0, -1), error: null }, outcome: null };
    case "cancel":
      return { state: s, outcome: "cancelled" };
    case "enter":
      if (s.text === expected) return { state: s, outcome: "confirmed" };
      return { state: { text: "", error: `that is not "${expected}"; nothing was changed` }, outcome: null };
  }
}

export type YesNo = "yes" | "no" | null;

export function bindYesNo(k: Key): YesNo {
  if (k.name === "char" && (k.ch === "y" || k.ch === "Y")) return "yes";
  if (k.name === "escape" || (k.name === "char" && (k.ch === "n" || k.ch === "N" || k.ch === "q"))) return "no";
  return null;
}

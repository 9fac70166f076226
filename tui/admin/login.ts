// The lock screen: the console menu opens only with the admin password (appliance.yaml).
import { createElement as h, type ReactElement, useEffect, useReducer, useRef } from "react";
import type { Key } from "../terminal/key-parser.ts";
import type { Theme } from "../terminal/theme.ts";
import { useKeys } from "../ui/key-router.ts";
import { type StyledLine, seg } from "../ui/lines.ts";
import { Screen } from "../ui/screen.ts";

export interface LoginState {
  password: string;
  error: string | null;
  checking: boolean;
  failures: number;
  /** Bumped when Enter asks for a check; the controller runs it once per value. */
  seq: number;
}

export type LoginAction = { type: "char"; ch: string } | { type: "backspace" } | { type: "clear" } | { type: "enter" } | { type: "checked"; ok: boolean };

export const initialLogin: LoginState = { password: "", error: null, checking: false, failures: 0, seq: 0 };

export function reduceLogin(s: LoginState, a: LoginAction): LoginState {
  if (s.checking && a.type !== "checked") return s;
  switch (a.type) {
    case "char":
      return /^[\x20-\x7e]$/.test(a.ch) && s.password.length < 128 ? { ...s, password: s.password + a.ch, error: null } : s;
    case "backspace":
      return { ...s, password: s.password.slice(0, -1) };
    case "clear":
      return { ...s, password: "" };
    case "enter":
      if (s.password === "") return { ...s, error: "type the admin password set during setup" };
      return { ...s, checking: true, error: null, seq: s.seq + 1 };
    case "checked":
      if (a.ok) return { ...s, checking: false };
      return { ...s, checking: false, password: "", failures: s.failures + 1, error: `wrong password (${s.failures + 1} failed attempt${s.failures ? "s" : ""})` };
  }
}

export function bindLoginKey(k: Key): LoginAction | null {
  if (k.name === "char") return { type: "char", ch: k.ch ?? "" };
  if (k.name === "backspace") return { type: "backspace" };
  if (k.name === "enter") return { type: "enter" };
  if (k.name === "ctrl" && k.ch === "u") return { type: "clear" };
  return null;
}

export function loginBody(s: LoginState, note: string | null): StyledLine[] {
  const body: StyledLine[] = [[], [seg("This console is locked.", "heading")], [], [seg("  Admin password: "), seg("*".repeat(s.password.length), "field"), seg("_", "selected")], []];
  if (s.checking) body.push([seg("  checking...", "warn")]);
  else if (s.error) body.push([seg(`  ! ${s.error}`, "error")]);
  if (note) body.push([], [seg(note, "dim")]);
  return body;
}

/** After this many failures each further check waits FAILURE_DELAY_MS before answering. */
export const FREE_ATTEMPTS = 3;
export const FAILURE_DELAY_MS = 3000;

export function LoginScreen(p: { theme: Theme; title: string; right: string; note: string | null; verify: (password: string) => Promise<boolean>; onUnlock: () => void }): ReactElement {
  const [s, dispatch] = useReducer(reduceLogin, initialLogin);
  const done = useRef(0);
  useKeys((k) => {
    const a = bindLoginKey(k);
    if (a) dispatch(a);
  });
  useEffect(() => {
    if (!s.checking || s.seq <= done.current) return;
    done.current = s.seq;
    let live = true;
    const started = Date.now();
    void p.verify(s.password).then(
      async (ok) => {
        // Slow down guessing after a few failures; a right password is never delayed.
        if (!ok && s.failures + 1 >= FREE_ATTEMPTS) await new Promise((r) => setTimeout(r, Math.max(0, FAILURE_DELAY_MS - (Date.now() - started))));
        if (!live) return;
        dispatch({ type: "checked", ok });
        if (ok) p.onUnlock();
      },
      () => live && dispatch({ type: "checked", ok: false }),
    );
    return () => {
      live = false;
    };
  }, [s.checking, s.seq]);
  return h(Screen, { theme: p.theme, title: p.title, right: p.right, body: loginBody(s, p.note), hints: [["Enter", "unlock"], ["^U", "clear"], ["^C", "leave"]] });
}

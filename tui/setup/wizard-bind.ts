// Keys to wizard actions. Every action has a key that is a single byte (Tab, Enter, Esc, control
// letters, digits and letters), for terminals whose arrow keys never arrive.
import type { Key } from "../terminal/key-parser.ts";
import type { WizardAction } from "./wizard-reducer.ts";

export function bindWizardKey(k: Key): WizardAction | null {
  switch (k.name) {
    case "char":
      return { type: "char", ch: k.ch ?? "" };
    case "enter":
      return { type: "enter" };
    case "tab":
      return { type: "next" };
    case "backtab":
      return { type: "prev" };
    case "escape":
      return { type: "back" };
    case "backspace":
    case "delete":
      return { type: "backspace" };
    case "up":
      return { type: "up" };
    case "down":
      return { type: "down" };
    case "left":
      return { type: "cycle", dir: -1 };
    case "right":
      return { type: "cycle", dir: 1 };
    case "pageup":
      return { type: "page", dir: -1 };
    case "pagedown":
      return { type: "page", dir: 1 };
    case "ctrl":
      if (k.ch === "n") return { type: "next" };
      if (k.ch === "p") return { type: "prev" };
      if (k.ch === "u") return { type: "clear" };
      if (k.ch === "h") return { type: "backspace" };
      return null;
    default:
      return null;
  }
}

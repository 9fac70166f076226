// The main menu, in the spirit of a hypervisor's direct console: one letter per action, shown on
// screen, and a `>` column for the arrow-key selection.
import type { Key } from "../terminal/key-parser.ts";
import { type StyledLine, padEnd, seg } from "../ui/lines.ts";

export type MenuId = "status" | "node-mode" | "move" | "fencing" | "log" | "restart" | "token" | "reset" | "about" | "lock";

export interface MenuItem {
  id: MenuId;
  key: string;
  label: string;
  about: string;
}

export const MENU: readonly MenuItem[] = [
  { id: "status", key: "s", label: "Status", about: "nodes, links, quorum, resources, volumes, live" },
  { id: "node-mode", key: "n", label: "Node mode", about: "standby, online or maintenance" },
  { id: "move", key: "m", label: "Move a resource", about: "move, clear a move, clean up failures" },
  { id: "fencing", key: "f", label: "Test fencing", about: "ask each BMC for its power status" },
  { id: "log", key: "l", label: "View the log", about: "scroll and filter the node's log" },
  { id: "restart", key: "r", label: "Restart services", about: "restart hapd on this box" },
  { id: "token", key: "j", label: "Join token", about: "for setting up another box" },
  { id: "reset", key: "x", label: "Reset configuration", about: "back to first-boot setup" },
  { id: "about", key: "a", label: "About", about: "version, image slot, terminal" },
  { id: "lock", key: "q", label: "Lock the console", about: "ask for the password again" },
];

export interface MenuState {
  cursor: number;
}

export type MenuAction = { type: "move"; dir: 1 | -1 } | { type: "open"; id: MenuId } | { type: "open-cursor" } | { type: "unknown"; ch: string };

export function bindMenuKey(k: Key): MenuAction | null {
  if (k.name === "up") return { type: "move", dir: -1 };
  if (k.name === "down" || k.name === "tab") return { type: "move", dir: 1 };
  if (k.name === "enter") return { type: "open-cursor" };
  if (k.name === "char" && k.ch) {
    const item = MENU.find((m) => m.key === k.ch!.toLowerCase());
    return item ? { type: "open", id: item.id } : { type: "unknown", ch: k.ch };
  }
  return null;
}

/** The menu's state change, and which screen to open (if any). */
export function reduceMenu(s: MenuState, a: MenuAction): { state: MenuState; open: MenuId | null } {
  switch (a.type) {
    case "move":
      return { state: { cursor: (s.cursor + a.dir + MENU.length) % MENU.length }, open: null };
    case "open": {
      const i = MENU.findIndex((m) => m.id === a.id);
      return { state: { cursor: i }, open: a.id };
    }
    case "open-cursor":
      return { state: s, open: MENU[s.cursor]!.id };
    case "unknown":
      return { state: s, open: null };
  }
}

export function menuBody(s: MenuState, statusLine: StyledLine, note: StyledLine): StyledLine[] {
  const body: StyledLine[] = [statusLine, []];
  MENU.forEach((m, i) => {
    const here = i === s.cursor;
    body.push([seg(here ? "> " : "  "), seg(` ${m.key.toUpperCase()} `, here ? "selected" : "key"), seg("  "), seg(padEnd(m.label, 22), here ? "heading" : undefined), seg(m.about, "dim")]);
  });
  body.push([], note);
  return body;
}

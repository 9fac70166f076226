// Routes keys to the screen that has the keyboard: the most recently mounted handler wins, so a
// sub-screen takes the keys while it is open and gives them back when it closes.
import { createContext, useContext, useLayoutEffect, useRef } from "react";
import type { Key } from "../terminal/key-parser.ts";

export type KeyHandler = (key: Key) => void;

export class KeyRouter {
  private stack: Array<{ id: number; handler: () => KeyHandler }> = [];
  private next = 1;
  /** Sees every key first (Ctrl-C, Ctrl-L, a terminal too small); true means "taken". */
  intercept: ((key: Key) => boolean) | null = null;

  push(handler: () => KeyHandler): () => void {
    const id = this.next++;
    this.stack.push({ id, handler });
    return () => {
      this.stack = this.stack.filter((e) => e.id !== id);
    };
  }

  dispatch(key: Key): void {
    if (this.intercept?.(key)) return;
    this.stack[this.stack.length - 1]?.handler()(key);
  }
}

export const KeyRouterContext = createContext<KeyRouter | null>(null);

/** Gives this component the keyboard while it is mounted (and `active`). */
export function useKeys(handler: KeyHandler, active = true): void {
  const router = useContext(KeyRouterContext);
  const ref = useRef(handler);
  ref.current = handler;
  // A layout effect: registered in the same commit that shows the screen, so a key that arrives
  // right after a screen change goes to the new screen, never to none.
  useLayoutEffect(() => {
    if (!router || !active) return undefined;
    return router.push(() => ref.current);
  }, [router, active]);
}

// The keyboard as a stream of keys: reads the input stream, decodes UTF-8 across chunk
// boundaries, and waits ESC_WAIT_MS after an unfinished escape sequence before deciding that
// it was a lone Esc (arrow keys split over a slow line arrive as ESC + "[A").
import { StringDecoder } from "node:string_decoder";
import { type Key, parseKeys } from "./key-parser.ts";

export const ESC_WAIT_MS = 50;

export type KeyListener = (key: Key) => void;

export interface KeySource {
  subscribe(listener: KeyListener): () => void;
  close(): void;
}

export function createKeySource(input: NodeJS.ReadableStream, escWait_ms = ESC_WAIT_MS): KeySource {
  const decoder = new StringDecoder("utf8");
  const listeners = new Set<KeyListener>();
  let rest = "";
  let timer: ReturnType<typeof setTimeout> | null = null;

  const emit = (keys: Key[]) => {
    for (const k of keys) for (const l of [...listeners]) l(k);
  };
  const feed = (text: string, flush: boolean) => {
    if (timer) clearTimeout(timer);
    timer = null;
    const r = parseKeys(rest + text, flush);
    rest = r.rest;
    emit(r.keys);
    if (rest) {
      timer = setTimeout(() => feed("", true), escWait_ms);
    }
  };
  const onData = (chunk: Buffer | string) => feed(typeof chunk === "string" ? chunk : decoder.write(chunk), false);
  input.on("data", onData);
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      if (timer) clearTimeout(timer);
      input.off("data", onData);
      listeners.clear();
    },
  };
}

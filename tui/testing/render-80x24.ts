// Renders an ink tree once on a stand-in 80x24 stdout (ink-testing-library's is 100 columns
// wide) and returns the frame.
import { EventEmitter } from "node:events";
import { render } from "ink";
import type { ReactElement } from "react";

class Stdout80x24 extends EventEmitter {
  readonly columns = 80;
  readonly rows = 24;
  frames: string[] = [];
  write = (frame: string) => {
    this.frames.push(frame);
    return true;
  };
}

export function renderAt80x24(tree: ReactElement): string {
  const stdout = new Stdout80x24();
  const instance = render(tree, { stdout: stdout as unknown as NodeJS.WriteStream, debug: true, patchConsole: false, exitOnCtrlC: false });
  instance.unmount();
  return stdout.frames[stdout.frames.length - 1] ?? "";
}

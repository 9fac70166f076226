// The node's incarnation: a number that strictly grows across restarts. It keys the wire
// encryption (a reused incarnation could reuse a nonce) and tells peers that this node restarted
// and lost its state. Persisted in the state dir; also never below the wall clock in ms, so a
// lost state dir still yields a fresh value on any machine whose clock moves forward.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../shared/keyfile.ts";

export function nextIncarnation(stateDir: string, now_ms = Date.now()): number {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = join(stateDir, "incarnation");
  let prev = 0;
  try {
    const v = Number(readFileSync(file, "utf8").trim());
    if (Number.isSafeInteger(v) && v > 0) prev = v;
  } catch {
    prev = 0;
  }
  const next = Math.max(prev + 1, Math.floor(now_ms));
  writeFileAtomic(file, `${next}\n`, 0o600);
  return next;
}

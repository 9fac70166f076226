// Invariants of the consensus core. A broken one is a bug in the core (or in its caller's
// contract), never bad input: it throws so the simulator stops at the first wrong step, with the
// seed to replay it. Bad input from peers is dropped by the decoder and never reaches these.

export class InvariantError extends Error {
  constructor(message: string) {
    super(`cib invariant: ${message}`);
    this.name = "InvariantError";
  }
}

export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

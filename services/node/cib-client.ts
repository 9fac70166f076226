// Proposing to the replicated CIB from the node: a command gets a unique id, is proposed (a
// follower forwards it to the leader), and the caller waits until it is applied here. A proposal
// that is lost on the way is sent again with the same id; the state machine applies an id once.
import { type ApplyResult, type CibState, type Command, encodeCommand } from "../cib/cib.ts";
import type { CibReplica } from "../cib/replica.ts";

const RETRY_MS = 1000;

export class CibClient {
  private seq = 0;
  private readonly waiting = new Map<string, (r: ApplyResult) => void>();

  /**
   * `origin` names this node's session; ids must grow across restarts, so they start from the
   * incarnation (a persisted, ever-growing number).
   */
  constructor(
    private readonly replica: () => CibReplica | null,
    private readonly origin: string,
    incarnation: number,
    private readonly step: (what: () => void) => void,
  ) {
    this.seq = incarnation * 1000;
  }

  /** Feed every applied entry's result here (CibReplica's onApply). */
  applied(result: ApplyResult | null): void {
    const id = result?.id;
    if (!result || !id || id.origin !== this.origin) return;
    const key = String(id.seq);
    const done = this.waiting.get(key);
    if (done) {
      this.waiting.delete(key);
      done(result);
    }
  }

  state(): CibState | null {
    return this.replica()?.state ?? null;
  }

  /** A fresh command id of this node's session, for a caller that may propose the same command again. */
  newId(): { origin: string; seq: number } {
    this.seq += 1;
    return { origin: this.origin, seq: this.seq };
  }

  /**
   * Propose and wait for the outcome; rejects on timeout or when no leader takes it. A command
   * that already carries an id of this node (newId) keeps it: proposing it again after a timeout
   * applies it at most once.
   */
  propose(cmd: Command, timeout_ms = 8000): Promise<ApplyResult> {
    const replica = this.replica();
    if (!replica) return Promise.reject(new Error("the CIB is not running on this node"));
    const id = cmd.id && cmd.id.origin === this.origin ? cmd.id : this.newId();
    const withId = { ...cmd, id } as Command;
    // A command that does not validate is the caller's bug or bad input: refuse it here, before
    // it reaches the replica (whose errors stop the process, as storage errors must).
    try {
      encodeCommand(withId);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const key = String(id.seq);
    return new Promise((resolve, reject) => {
      let lastReason = "";
      const send = () =>
        this.step(() => {
          const r = replica.propose(withId);
          if (r.kind === "refused") lastReason = r.reason;
        });
      const retry = setInterval(send, RETRY_MS);
      const timer = setTimeout(() => {
        clearInterval(retry);
        this.waiting.delete(key);
        reject(new Error(`not committed within ${timeout_ms} ms${lastReason ? ` (${lastReason})` : ""}: is the cluster quorate, with a DC?`));
      }, timeout_ms);
      this.waiting.set(key, (r) => {
        clearInterval(retry);
        clearTimeout(timer);
        resolve(r);
      });
      send();
    });
  }
}

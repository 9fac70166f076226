// The virtual-time event queue shared by the simulators: events ordered by (time, insertion
// order), so two runs with the same seed execute the same events in the same order.

export interface SimEvent {
  at: number;
  order: number;
  run: () => void;
}

export class EventQueue {
  private readonly events: SimEvent[] = [];
  private order = 0;

  get length(): number {
    return this.events.length;
  }

  /** The time of the next event, or Infinity. */
  get nextAt(): number {
    return this.events[0]?.at ?? Infinity;
  }

  push(at: number, run: () => void): void {
    const ev = { at, order: this.order++, run };
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const q = this.events[mid]!;
      if (q.at < ev.at || (q.at === ev.at && q.order < ev.order)) lo = mid + 1;
      else hi = mid;
    }
    this.events.splice(lo, 0, ev);
  }

  shift(): SimEvent | undefined {
    return this.events.shift();
  }
}

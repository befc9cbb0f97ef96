import type { SmState } from '@holdfast/events';

/**
 * A hibernating session's deadline (spec T9), keyed by session and version (§7.16); for a termination
 * with unacked stanzas, the time to check that its §4 outcomes were all carried out; or, with
 * `old_session_ttl_s`, the time a kept h-record is deleted (§5).
 */
export interface Timer {
  readonly session: string;
  readonly version: number;
  /** Stream sequence of the state event that set it: a later state voids it. */
  readonly seq: number;
  /** Epoch milliseconds. */
  readonly deadline: number;
  /**
   * Absent: expire the hibernating session. `finish`: the session is TERMINATED as `terminatedKind`;
   * ask to finish its outcomes. `forget`: delete its h-record.
   */
  readonly kind?: 'finish' | 'forget';
  readonly terminatedKind?: 'closed' | 'expired' | 'evicted' | 'overflow';
  /** A `finish` check whose session also keeps an h-record: when that record is to be deleted. */
  readonly forgetAt?: number;
}

/** What a termination event adds to its state: when it was logged, how many stanzas it left, the clock. */
export interface Termination {
  readonly at: number;
  readonly unacked: number;
  readonly now: number;
}

type ObservedState = Pick<SmState, 'status' | 'version' | 'deadline' | 'terminatedKind' | 'recordKept'>;

/** How long after a termination its outcomes are checked, and how old a termination may be to be checked. */
export const FINISH_CHECK = { afterMs: 30_000, maxAgeMs: 3_600_000 } as const;

/**
 * The hibernation timers of one partition of the session log, built from its `f.state` events in
 * stream order. Only HIBERNATING sessions are held; any later state of a session (resumed, terminated,
 * a moved deadline) replaces or drops its timer. A min-heap by deadline with lazy deletion: a voided
 * timer stays in the heap until it reaches the top and is skipped there.
 */
export class TimerTable {
  private readonly current = new Map<string, Timer>();
  private readonly heap: Timer[] = [];

  /** `recordTtlMs`: `old_session_ttl_s` in ms; 0 keeps h-records until reported, revoked or pruned. */
  constructor(private readonly recordTtlMs = 0) {}

  /**
   * Applies the state a session reached at stream sequence `seq`. A termination logged at `at` (epoch
   * ms) with `unacked` stanzas arms a check that its §4 outcomes were carried out (the gateway that
   * ended it may have died in between), unless it is older than `FINISH_CHECK.maxAgeMs` at `now` (a
   * later state of the same termination, its record reported or pruned, counts the same stanzas, so it
   * arms the check again). A kept h-record arms its deletion at `at` + the record TTL, if there is one
   * (after the check, if any).
   */
  observe(session: string, seq: number, state: ObservedState, termination?: Termination): void {
    const known = this.current.get(session);
    if (known !== undefined && known.seq >= seq) return;
    const timer = timerOf(session, seq, state, termination, this.recordTtlMs);
    if (timer === undefined) {
      this.current.delete(session);
      return;
    }
    this.current.set(session, timer);
    this.push(timer);
  }

  /** Deadline of the earliest current timer (voided ones on top are discarded), or undefined. */
  peek(): number | undefined {
    for (let top = this.heap[0]; top !== undefined; top = this.heap[0]) {
      if (this.current.get(top.session) === top) return top.deadline;
      this.pop();
    }
    return undefined;
  }

  /**
   * Takes up to `max` current timers due at `now` (epoch ms) off the schedule, earliest first. Each
   * stays the session's timer until `settle` (fired) or `rearm` (retry later); a newer state of the
   * session voids it.
   */
  due(now: number, max = Number.POSITIVE_INFINITY): Timer[] {
    const due: Timer[] = [];
    for (
      let top = this.heap[0];
      top !== undefined && top.deadline <= now && due.length < max;
      top = this.heap[0]
    ) {
      this.pop();
      if (this.current.get(top.session) === top) due.push(top);
    }
    return due;
  }

  /** The timer fired (or found nothing to do): the session has no timer until a new state arms one. */
  settle(timer: Timer): void {
    if (this.current.get(timer.session) === timer) this.current.delete(timer.session);
  }

  /**
   * Schedules `timer` again at `at` (a firing to retry, or a deadline found later than known), unless a
   * newer state of its session replaced or dropped it meanwhile.
   */
  rearm(timer: Timer, at: number): void {
    this.follow(timer, { ...timer, deadline: at });
  }

  /** A fired `finish` check is followed by its session's record deletion, if it has one due later. */
  settleFinished(timer: Timer): void {
    if (timer.forgetAt === undefined) {
      this.settle(timer);
      return;
    }
    const { session, version, seq, forgetAt } = timer;
    this.follow(timer, { session, version, seq, deadline: forgetAt, kind: 'forget' });
  }

  /** Replaces `timer` by `next` unless a newer state of its session replaced or dropped it meanwhile. */
  private follow(timer: Timer, next: Timer): void {
    if (this.current.get(timer.session) !== timer) return;
    this.current.set(timer.session, next);
    this.push(next);
  }

  /** Sessions with a timer (a deadline, an outcome check or a record deletion). */
  get size(): number {
    return this.current.size;
  }

  private push(timer: Timer): void {
    const heap = this.heap;
    heap.push(timer);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = heap[parent];
      if (above === undefined || above.deadline <= timer.deadline) break;
      heap[index] = above;
      index = parent;
    }
    heap[index] = timer;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      let smallestDeadline = last.deadline;
      const leftTimer = heap[left];
      const rightTimer = heap[right];
      if (leftTimer !== undefined && leftTimer.deadline < smallestDeadline) {
        smallest = left;
        smallestDeadline = leftTimer.deadline;
      }
      if (rightTimer !== undefined && rightTimer.deadline < smallestDeadline) smallest = right;
      if (smallest === index) break;
      heap[index] = heap[smallest] as Timer;
      index = smallest;
    }
    heap[index] = last;
  }
}

function timerOf(
  session: string,
  seq: number,
  state: ObservedState,
  termination: Termination | undefined,
  recordTtlMs: number,
): Timer | undefined {
  const { version } = state;
  if (state.status === 'HIBERNATING') {
    const deadline = state.deadline === undefined ? Number.NaN : Date.parse(state.deadline);
    return Number.isNaN(deadline) ? undefined : { session, version, seq, deadline };
  }
  if (state.status !== 'TERMINATED' || termination === undefined) return undefined;
  const forgetAt = state.recordKept === true && recordTtlMs > 0 ? termination.at + recordTtlMs : undefined;
  const later = forgetAt === undefined ? {} : { forgetAt };
  if (termination.unacked > 0 && termination.now - termination.at <= FINISH_CHECK.maxAgeMs) {
    return {
      session,
      version,
      seq,
      deadline: termination.at + FINISH_CHECK.afterMs,
      kind: 'finish',
      terminatedKind: state.terminatedKind ?? 'closed',
      ...later,
    };
  }
  if (forgetAt !== undefined) return { session, version, seq, deadline: forgetAt, kind: 'forget' };
  return undefined;
}

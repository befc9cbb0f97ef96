import type { OutgoingEvent } from '@holdfast/bus';
import type { DataOf, SmHibernationStarted, SmSessionTerminated, SmState } from '@holdfast/events';
import type { SessionSnapshot } from '@holdfast/session-log';

export type TakeoverDecision =
  /** Nothing to do: the session is no longer the dead gateway's (resumed elsewhere, hibernating, ended). */
  | { readonly kind: 'leave'; readonly reason: 'not-active' | 'other-owner' }
  /** T5 on the dead gateway's behalf: the resumable session hibernates with what its log holds. */
  | { readonly kind: 'hibernate'; readonly event: OutgoingEvent<DataOf<typeof SmHibernationStarted>> }
  /**
   * T6: a session that cannot be resumed ends as `closed`. Its queued stanzas still need the §4 outcomes,
   * which the termination outcome service applies (not this decision).
   */
  | { readonly kind: 'terminate'; readonly event: OutgoingEvent<DataOf<typeof SmSessionTerminated>> };

/**
 * What to publish for a session whose gateway (`deadNode`) died: spec §7.14, a crash is transport loss
 * (T5 if resumable, else T6). Decided on a snapshot of the session's log, published fenced on that
 * snapshot by the caller; the id is deterministic per (version, fence), so two session-state instances
 * deciding on the same snapshot store one event.
 */
export function decideTakeover(snapshot: SessionSnapshot, deadNode: string, now: Date): TakeoverDecision {
  const { state } = snapshot.record;
  if (state.status !== 'ACTIVE') return { kind: 'leave', reason: 'not-active' };
  if (state.owner !== deadNode) return { kind: 'leave', reason: 'other-owner' };
  const id = `${snapshot.session}.takeover.${state.version}.${snapshot.fence}`;
  const counters = { h: snapshot.h, acked: snapshot.acked, ackedThrough: snapshot.ackedThrough };
  const unowned = withoutOwner(state);
  if (state.resumable) {
    const deadline = new Date(now.getTime() + state.max * 1000).toISOString();
    const hibernating: SmState = {
      ...unowned,
      ...counters,
      status: 'HIBERNATING',
      hibernatedAt: now.toISOString(),
      deadline,
    };
    return {
      kind: 'hibernate',
      event: {
        id,
        at: now,
        data: {
          session: snapshot.session,
          jid: state.jid,
          deadline,
          queued: snapshot.entries.length,
          state: hibernating,
        },
      },
    };
  }
  const terminated: SmState = {
    ...unowned,
    ...counters,
    status: 'TERMINATED',
    terminatedKind: 'closed',
    recordKept: false,
  };
  return {
    kind: 'terminate',
    event: {
      id,
      at: now,
      data: {
        session: snapshot.session,
        jid: state.jid,
        kind: 'closed',
        h: snapshot.h,
        unacked: snapshot.entries.length,
        state: terminated,
      },
    },
  };
}

function withoutOwner(state: SmState): SmState {
  const rest: SmState = { ...state };
  delete rest.owner;
  return rest;
}

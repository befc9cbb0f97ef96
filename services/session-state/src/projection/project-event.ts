import type { AnyEvent, SmState } from '@holdfast/events';
import { bareOf } from '@holdfast/session-log';
import type { SmHRecordDocument, SmQueueDocument, SmSessionDocument } from '@holdfast/store';

/** What one state or queue event changes in the `sm_sessions` document. */
export type SessionWrite =
  /**
   * The session's first event (`sm.enabled`): its document is new, unless this event or a later one was
   * applied before (a replay).
   */
  | { readonly kind: 'create'; readonly document: SmSessionDocument }
  | { readonly kind: 'replace'; readonly document: SmSessionDocument }
  /** A moved deadline (§6 set_deadline): the rest of the document, its queue length included, stays. */
  | { readonly kind: 'deadline'; readonly deadline: Date; readonly lastSeq: number; readonly updatedAt: Date }
  | {
      readonly kind: 'queue-length';
      readonly queueLength: number;
      readonly lastSeq: number;
      readonly updatedAt: Date;
    };

/** What it changes in `sm_queue`. */
export type QueueWrite =
  | { readonly kind: 'none' }
  /**
   * Hibernation started: the queue is the session's unacknowledged entries in the log, read by the
   * caller (the event carries only their count): the last `count` entries after `afterSeq` and before
   * the event itself.
   */
  | { readonly kind: 'load'; readonly afterSeq: number; readonly beforeSeq: number; readonly count: number }
  | { readonly kind: 'insert'; readonly entry: SmQueueDocument }
  /** Resumed or ended: the queue is no longer the session's to keep. */
  | { readonly kind: 'clear' };

/** What it changes in `sm_h_records`. */
export type HRecordWrite =
  | { readonly kind: 'none' }
  | { readonly kind: 'put'; readonly record: SmHRecordDocument }
  | { readonly kind: 'delete' };

export interface Projection {
  readonly session: string;
  readonly sessionWrite: SessionWrite;
  readonly queue: QueueWrite;
  readonly hRecord: HRecordWrite;
}

/**
 * The read-model changes of one event of a session's fence lanes (`f.state`, `f.queue`) at stream
 * sequence `seq`; undefined for any other event. Deterministic (times come from the event), so a replay
 * computes the same documents.
 */
export function projectEvent(event: AnyEvent, seq: number): Projection | undefined {
  const at = new Date(event.metadata.at);
  switch (event.type) {
    case 'sm.hibernation_stanza_queued':
      return {
        session: event.data.session,
        sessionWrite: {
          kind: 'queue-length',
          queueLength: event.data.queueLength,
          lastSeq: seq,
          updatedAt: at,
        },
        queue: {
          kind: 'insert',
          entry: {
            _id: queueEntryId(event.data.session, seq),
            session: event.data.session,
            seq,
            stanza: event.data.stanza,
            at,
          },
        },
        hRecord: { kind: 'none' },
      };
    case 'sm.enabled':
      return {
        session: event.data.session,
        sessionWrite: {
          kind: 'create',
          document: sessionDocument(event.data.session, event.data.state, seq, at, 0),
        },
        queue: { kind: 'none' },
        // An enabled session is ACTIVE: it has no h-record.
        hRecord: { kind: 'none' },
      };
    case 'sm.hibernation_started':
      return stateProjection(event.data.session, event.data.state, seq, at, event.data.queued, {
        kind: 'load',
        afterSeq: event.data.state.ackedThrough,
        beforeSeq: seq,
        count: event.data.queued,
      });
    case 'sm.hibernation_deadline_set':
      return {
        session: event.data.session,
        sessionWrite: {
          kind: 'deadline',
          deadline: new Date(event.data.deadline),
          lastSeq: seq,
          updatedAt: at,
        },
        queue: { kind: 'none' },
        hRecord: { kind: 'none' },
      };
    case 'sm.hibernation_ended':
    case 'sm.session_terminated':
      return stateProjection(event.data.session, event.data.state, seq, at, 0, { kind: 'clear' });
    default:
      return undefined;
  }
}

/** An event at or below the sequence already applied to the session is a replay. */
export function isReplay(lastSeq: number | undefined, seq: number): boolean {
  return lastSeq !== undefined && seq <= lastSeq;
}

export function queueEntryId(session: string, seq: number): string {
  return `${session}:${seq}`;
}

function stateProjection(
  session: string,
  state: SmState,
  seq: number,
  at: Date,
  queueLength: number,
  queue: QueueWrite,
): Projection {
  return {
    session,
    sessionWrite: { kind: 'replace', document: sessionDocument(session, state, seq, at, queueLength) },
    queue,
    hRecord: hRecordWrite(session, state, at),
  };
}

export function sessionDocument(
  session: string,
  state: SmState,
  seq: number,
  at: Date,
  queueLength: number,
): SmSessionDocument {
  return {
    _id: session,
    jid: state.jid,
    bareJid: bareOf(state.jid),
    status: state.status,
    ...(state.owner === undefined ? {} : { owner: state.owner }),
    resumable: state.resumable,
    version: state.version,
    h: state.h,
    acked: state.acked,
    enabledAt: new Date(state.enabledAt),
    ...(state.hibernatedAt === undefined ? {} : { hibernatedAt: new Date(state.hibernatedAt) }),
    ...(state.deadline === undefined ? {} : { deadline: new Date(state.deadline) }),
    ...(state.terminatedKind === undefined ? {} : { terminatedKind: state.terminatedKind }),
    ...(state.recordKept === undefined ? {} : { recordKept: state.recordKept }),
    queueLength,
    lastSeq: seq,
    updatedAt: at,
  };
}

/** Spec §5: a terminated session with its h kept has a record; any other terminated state has none. */
function hRecordWrite(session: string, state: SmState, at: Date): HRecordWrite {
  if (state.status !== 'TERMINATED') return { kind: 'none' };
  if (state.recordKept !== true) return { kind: 'delete' };
  return { kind: 'put', record: { _id: session, bareJid: bareOf(state.jid), h: state.h, terminatedAt: at } };
}

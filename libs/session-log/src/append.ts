import { randomBytes } from 'node:crypto';

import { ConcurrencyConflictError } from '@holdfast/bus';
import { SmHibernationStanzaQueued, decodeEvent, sessionLaneFilter } from '@holdfast/events';

import type { SessionLog } from './session-log.js';

export type AppendResult =
  /** Stored durably in the session's queue (T7). */
  | { readonly kind: 'queued'; readonly queueLength: number }
  /** The session is connected to this gateway: deliver there. */
  | { readonly kind: 'active'; readonly owner: string }
  /** Queue full (§2.4): the caller must not store it; the session ends as overflow (T11b). */
  | { readonly kind: 'overflow'; readonly queueLength: number }
  /** No such SM session, or it ended. */
  | { readonly kind: 'gone' };

export interface AppendRequest {
  readonly session: string;
  /** The delay-stamped copy (spec §2.5). */
  readonly stanza: string;
  readonly maxQueueSize: number;
  /**
   * A gateway known to be unreachable: an ACTIVE session it owns is queued for as if it hibernated (its
   * owner, should it be alive after all, finds the entry behind the fence and delivers it).
   */
  readonly unreachableOwner?: string;
  /** The delivery's id (`Nats-Msg-Id`): the same stanza routed twice to the session is stored once. */
  readonly id?: string;
}

const MAX_ATTEMPTS = 16;

/**
 * Spec T7: queue a stanza for a session that has no connection, durably, whichever gateway routed it.
 * The append is fenced like any session write, so it cannot slip in after a resume claim or a
 * termination: the loser looks again and finds the new owner (or that the session ended).
 */
export async function appendToQueue(log: SessionLog, request: AppendRequest): Promise<AppendResult> {
  // One id for every retry of this one stanza: a publish that timed out but was stored is not stored twice.
  const id = request.id ?? `${request.session}.q.${randomBytes(12).toString('base64url')}`;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const record = await log.state(request.session);
    if (record === undefined || record.state.status === 'TERMINATED') return { kind: 'gone' };
    const { state } = record;
    if (
      state.status === 'ACTIVE' &&
      (state.owner === undefined || state.owner !== request.unreachableOwner)
    ) {
      return state.owner === undefined ? { kind: 'gone' } : { kind: 'active', owner: state.owner };
    }
    const lastQueued = await log.last(sessionLaneFilter(request.session, 'f.queue'));
    let queueLength: number;
    let fence = record.seq;
    if (lastQueued !== undefined && lastQueued.seq > record.seq) {
      const event = decodeEvent(lastQueued.data);
      queueLength = event.type === 'sm.hibernation_stanza_queued' ? event.data.queueLength : 0;
      fence = lastQueued.seq;
    } else if (record.queued !== undefined) {
      queueLength = record.queued;
    } else {
      // ACTIVE on an unreachable owner: count what it left unacknowledged (a rare, slower path).
      queueLength = (await log.snapshot(request.session))?.entries.length ?? 0;
    }
    if (queueLength >= request.maxQueueSize) return { kind: 'overflow', queueLength };
    try {
      await log.publishFenced(
        SmHibernationStanzaQueued,
        {
          id,
          data: {
            session: request.session,
            jid: state.jid,
            stanza: request.stanza,
            queueLength: queueLength + 1,
          },
        },
        fence,
      );
      return { kind: 'queued', queueLength: queueLength + 1 };
    } catch (error) {
      if (!(error instanceof ConcurrencyConflictError)) throw error;
    }
  }
  throw new Error(`queue of session ${request.session} is too contended`);
}

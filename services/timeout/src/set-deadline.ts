import { ConcurrencyConflictError } from '@holdfast/bus';
import {
  SmHibernationDeadlineSet,
  type ReplyOf,
  type RequestOf,
  type SmSetHibernationDeadline,
} from '@holdfast/events';
import type { SessionLog } from '@holdfast/session-log';

import { boundDeadline } from './deadline-bounds.js';

const MAX_ATTEMPTS = 8;

/**
 * Spec §6 `sm.hibernation.set_deadline`: accepted only while the session hibernates, clamped to the
 * spec's bound, and written to the session's state lane fenced on the state it read (a resume or an
 * expiry meanwhile wins; the request is then decided again on the new state). The new state event voids
 * the old timer wherever it is held.
 */
export async function setDeadline(
  log: SessionLog,
  request: RequestOf<typeof SmSetHibernationDeadline>,
  bounds: {
    readonly hibernationTimeS: number;
    readonly pushMaxHibernationS: number;
    readonly now?: () => Date;
  },
): Promise<ReplyOf<typeof SmSetHibernationDeadline>> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const record = await log.state(request.session);
    if (record === undefined) return { ok: false, reason: 'unknown-session' };
    const { state } = record;
    if (state.status !== 'HIBERNATING' || state.hibernatedAt === undefined) {
      return { ok: false, reason: 'not-hibernating' };
    }
    const now = bounds.now?.() ?? new Date();
    const deadline = boundDeadline({
      requested: new Date(request.deadline),
      hibernatedAt: new Date(state.hibernatedAt),
      now,
      hibernationTimeS: bounds.hibernationTimeS,
      pushMaxHibernationS: bounds.pushMaxHibernationS,
    }).toISOString();
    try {
      await log.publishFenced(
        SmHibernationDeadlineSet,
        {
          id: `${request.session}.deadline.${record.seq}`,
          at: now,
          data: { session: request.session, jid: state.jid, deadline, state: { ...state, deadline } },
        },
        record.seq,
        'f.state',
      );
      return { ok: true, deadline };
    } catch (error) {
      if (!(error instanceof ConcurrencyConflictError)) throw error;
    }
  }
  throw new Error(`session ${request.session} is too contended to move its deadline`);
}

import { randomBytes } from 'node:crypto';

import { SmEnabled, SmHibernationStarted, type SmState } from '@holdfast/events';
import { stateWithout, type SessionLog } from '@holdfast/session-log';

/**
 * Writes a stream-management session straight into its log as a gateway would have: `sm.enabled`
 * (ACTIVE, resumable, version 1), then `sm.hibernation_started` with its deadline `deadlineInMs` from now
 * (unless `stayActive`). For tests of what reads the log (timers, terminations) without an XMPP client.
 */
export async function logSession(
  log: SessionLog,
  options: { readonly jid: string; readonly deadlineInMs: number; readonly stayActive?: boolean },
): Promise<{ session: string; deadline: number }> {
  const session = randomBytes(12).toString('base64url');
  const { jid } = options;
  const now = new Date();
  const active: SmState = {
    version: 1,
    status: 'ACTIVE',
    jid,
    resumable: true,
    secretHash: 'not-a-real-secret-hash',
    max: 600,
    owner: 'a-gateway',
    enabledAt: now.toISOString(),
    h: 0,
    acked: 0,
    ackedThrough: 0,
    writtenThrough: 0,
  };
  const enabled = await log.publishFenced(
    SmEnabled,
    { id: `${session}.enabled`, data: { session, jid, resumable: true, max: active.max, state: active } },
    0,
  );
  const deadline = new Date(now.getTime() + options.deadlineInMs).toISOString();
  if (options.stayActive === true) return { session, deadline: Date.parse(deadline) };
  const state: SmState = {
    ...stateWithout(active, 'owner'),
    status: 'HIBERNATING',
    hibernatedAt: now.toISOString(),
    deadline,
  };
  await log.publishFenced(
    SmHibernationStarted,
    { id: `${session}.hibernated.1`, data: { session, jid, deadline, queued: 0, state } },
    enabled.seq,
  );
  return { session, deadline: Date.parse(deadline) };
}

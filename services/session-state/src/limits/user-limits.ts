import type { Bus, BusLogger } from '@holdfast/bus';
import { SmTerminate, type AnyEvent } from '@holdfast/events';
import { forgetRecord, type SessionLog } from '@holdfast/session-log';

import { decideEvictions, decidePrunes } from './decide-limits.js';
import { hibernatingOf, recordsOf, type UserSessions } from './user-sessions.js';

export interface UserLimitsOptions {
  readonly maxHibernatedSessions: number;
  readonly maxOldSessions: number;
  readonly logger: BusLogger;
}

const TERMINATE_TIMEOUT_MS = 10_000;

/**
 * Spec §5 per-user limits, enforced as part of projecting an event, on the user's entry in the per-user
 * index as that event left it: a session that starts hibernating may evict the user's longest-hibernating
 * ones (T11, carried out by any gateway as `sm.terminate`, fenced on the victim's version); a kept
 * h-record may prune the user's oldest ones (their log state loses `recordKept`, and the projection of
 * that deletes the document and the index entry). The event is acknowledged only once this is done, so a
 * crash before that redoes them (the projector hands the entry over for a replay too); both actions are
 * idempotent. A failure (no gateway answering, a timeout) is logged, not retried.
 */
export class UserLimits {
  constructor(
    private readonly bus: Bus,
    private readonly log: SessionLog,
    private readonly options: UserLimitsOptions,
  ) {}

  async apply(event: AnyEvent, user: UserSessions | undefined): Promise<void> {
    if (user === undefined) return;
    try {
      if (event.type === 'sm.hibernation_started') await this.evict(user);
      if (event.type === 'sm.session_terminated' && event.data.state.recordKept === true) {
        await this.prune(user);
      }
    } catch (error) {
      // Not retried (the partition would wait on it): the victim still expires at its own deadline, and
      // a resume prunes what it reads.
      this.options.logger.warn({ err: error, event: event.type }, 'per-user limit not applied (§5)');
    }
  }

  private async evict(user: UserSessions): Promise<void> {
    const victims = decideEvictions(hibernatingOf(user), this.options.maxHibernatedSessions);
    await Promise.all(
      victims.map((victim) =>
        this.bus.request(
          SmTerminate,
          { session: victim.session, kind: 'evicted', version: victim.version },
          { timeoutMs: TERMINATE_TIMEOUT_MS },
        ),
      ),
    );
  }

  private async prune(user: UserSessions): Promise<void> {
    for (const record of decidePrunes(recordsOf(user), this.options.maxOldSessions)) {
      await forgetRecord(this.log, record.session);
    }
  }
}

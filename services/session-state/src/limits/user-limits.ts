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
 * Spec §5 per-user limits, enforced after the projection applied an event, on the user's entry in the
 * per-user index as that event left it: a session that starts hibernating may evict the user's
 * longest-hibernating ones (T11, carried out by any gateway as `sm.terminate`, fenced on the victim's
 * version); a kept h-record may prune the user's oldest ones (their log state loses `recordKept`, and
 * the projection of that deletes the document and the index entry). Runs beside the partition's
 * consumer, never holding it up.
 */
export class UserLimits {
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly bus: Bus,
    private readonly log: SessionLog,
    private readonly options: UserLimitsOptions,
  ) {}

  after(event: AnyEvent, user: UserSessions | undefined): void {
    if (user === undefined) return;
    let work: Promise<void> | undefined;
    if (event.type === 'sm.hibernation_started') work = this.evict(user);
    if (event.type === 'sm.session_terminated' && event.data.state.recordKept === true) {
      work = this.prune(user);
    }
    if (work === undefined) return;
    const tracked = work
      .catch((error: unknown) => {
        this.options.logger.warn({ err: error, event: event.type }, 'per-user limit not applied');
      })
      .finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  private async evict(user: UserSessions): Promise<void> {
    for (const victim of decideEvictions(hibernatingOf(user), this.options.maxHibernatedSessions)) {
      await this.bus.request(
        SmTerminate,
        { session: victim.session, kind: 'evicted', version: victim.version },
        { timeoutMs: TERMINATE_TIMEOUT_MS },
      );
    }
  }

  private async prune(user: UserSessions): Promise<void> {
    for (const record of decidePrunes(recordsOf(user), this.options.maxOldSessions)) {
      await forgetRecord(this.log, record.session);
    }
  }
}

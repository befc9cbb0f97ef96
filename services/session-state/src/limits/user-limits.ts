import type { Bus, BusLogger } from '@holdfast/bus';
import { SmTerminate, type AnyEvent } from '@holdfast/events';
import { bareOf, forgetRecord, type SessionLog } from '@holdfast/session-log';
import { SmHRecords, SmSessions, type Store } from '@holdfast/store';

import { decideEvictions, decidePrunes } from './decide-limits.js';

export interface UserLimitsOptions {
  readonly maxHibernatedSessions: number;
  readonly maxOldSessions: number;
  readonly logger: BusLogger;
}

const TERMINATE_TIMEOUT_MS = 10_000;

/**
 * Spec §5 per-user limits, enforced after the projection applied an event (so the user's documents
 * include it): a session that starts hibernating may evict the user's longest-hibernating ones (T11,
 * carried out by any gateway as `sm.terminate`, fenced on the victim's version); a kept h-record may
 * prune the user's oldest ones (their log state loses `recordKept`, the projection deletes the
 * document). Runs beside the partition's consumer, never holding it up.
 */
export class UserLimits {
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly bus: Bus,
    private readonly store: Store,
    private readonly log: SessionLog,
    private readonly options: UserLimitsOptions,
  ) {}

  after(event: AnyEvent): void {
    let work: Promise<void> | undefined;
    if (event.type === 'sm.hibernation_started') work = this.evict(bareOf(event.data.jid));
    if (event.type === 'sm.session_terminated' && event.data.state.recordKept === true) {
      work = this.prune(bareOf(event.data.jid));
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

  private async evict(bareJid: string): Promise<void> {
    const documents = await this.store.run(SmSessions, 'find', (collection) =>
      collection
        .find({ bareJid, status: 'HIBERNATING' }, { projection: { _id: 1, version: 1, hibernatedAt: 1 } })
        .toArray(),
    );
    const hibernating = documents.flatMap((document) =>
      document.hibernatedAt === undefined
        ? []
        : [{ session: document._id, version: document.version, hibernatedAt: document.hibernatedAt }],
    );
    for (const victim of decideEvictions(hibernating, this.options.maxHibernatedSessions)) {
      await this.bus.request(
        SmTerminate,
        { session: victim.session, kind: 'evicted', version: victim.version },
        { timeoutMs: TERMINATE_TIMEOUT_MS },
      );
    }
  }

  private async prune(bareJid: string): Promise<void> {
    const documents = await this.store.run(SmHRecords, 'find', (collection) =>
      collection.find({ bareJid }, { projection: { _id: 1, terminatedAt: 1 } }).toArray(),
    );
    const records = documents.map((document) => ({
      session: document._id,
      terminatedAt: document.terminatedAt,
    }));
    for (const record of decidePrunes(records, this.options.maxOldSessions)) {
      await forgetRecord(this.log, record.session);
      await this.store.run(SmHRecords, 'deleteOne', (collection) =>
        collection.deleteOne({ _id: record.session }),
      );
    }
  }
}

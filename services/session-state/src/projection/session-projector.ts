import type { AnyEvent } from '@holdfast/events';
import type { SessionLog } from '@holdfast/session-log';
import {
  DuplicateKeyError,
  SmHRecords,
  SmQueue,
  SmSessions,
  type SmQueueDocument,
  type Store,
} from '@holdfast/store';

import type { UserSessionsBucket } from '../limits/user-sessions-bucket.js';
import type { UserSessions } from '../limits/user-sessions.js';
import { isReplay, projectEvent, queueEntryId, type Projection, type QueueWrite } from './project-event.js';

/** Queue entries inserted per command when a hibernation starts with a long queue. */
const INSERT_BATCH = 500;
/** Queue entries deleted at once (one `_id` each) when a queue is cleared. */
const DELETE_BATCH = 16;
const DUPLICATE_KEY = 11000;

/**
 * Writes the session log's fence lanes into MongoDB (`sm_sessions`, `sm_queue`, `sm_h_records`) and the
 * per-user index of §5 (UserSessionsBucket), one event at a time in each session's order. Idempotent: an
 * event at or below a session's `lastSeq` changes nothing, and the queue, h-record and index writes of a
 * newer one are safe to repeat, because `lastSeq` moves last (a crash in between redoes them). Every
 * filter is `_id` alone, the only one FerretDB serves from an index (docs/ferretdb-compatibility.md): the
 * replay check is the read before the writes, and a partition has one event in flight at a time
 * (ProjectionConsumers), so nothing else writes the document between. Only single-document writes and
 * inserts under unique ids, so FerretDB 1.24 and MongoDB behave alike.
 */
export class SessionProjector {
  constructor(
    private readonly store: Store,
    private readonly log: SessionLog,
    private readonly users: UserSessionsBucket,
  ) {}

  /**
   * Applies one event; for an event that sets a session's state, returns its user's §5 entry (also for a
   * replay, so the limits that follow the event are redone after a crash).
   */
  async apply(event: AnyEvent, seq: number): Promise<UserSessions | undefined> {
    const projection = projectEvent(event, seq);
    if (projection === undefined) return undefined;
    const { sessionWrite } = projection;
    const stored = await this.store.run(SmSessions, 'findOne', (collection) =>
      collection.findOne({ _id: projection.session }, { projection: { lastSeq: 1, queueSeqs: 1 } }),
    );
    if (isReplay(stored?.lastSeq, seq)) {
      return sessionWrite.kind === 'replace' ? this.users.get(sessionWrite.document.bareJid) : undefined;
    }
    const queueSeqs = await this.applyQueue(projection.session, projection.queue, stored?.queueSeqs ?? []);
    await this.applyHRecord(projection);
    const user = sessionWrite.kind === 'replace' ? await this.users.apply(sessionWrite.document) : undefined;
    await this.applySession(projection, queueSeqs);
    return user;
  }

  /** Writes the queue change; returns the sequences of the session's entries afterwards. */
  private async applyQueue(
    session: string,
    write: QueueWrite,
    queueSeqs: readonly number[],
  ): Promise<number[]> {
    switch (write.kind) {
      case 'none':
        return [...queueSeqs];
      case 'insert':
        await this.insertIgnoringDuplicates([write.entry]);
        return [...queueSeqs.filter((seq) => seq !== write.entry.seq), write.entry.seq];
      case 'clear':
        for (let start = 0; start < queueSeqs.length; start += DELETE_BATCH) {
          await Promise.all(
            queueSeqs
              .slice(start, start + DELETE_BATCH)
              .map((seq) =>
                this.store.run(SmQueue, 'deleteOne', (collection) =>
                  collection.deleteOne({ _id: queueEntryId(session, seq) }),
                ),
              ),
          );
        }
        return [];
      case 'load': {
        if (write.count === 0) return [];
        const entries = (await this.log.entries(session, write.afterSeq + 1)).filter(
          (entry) => entry.seq < write.beforeSeq,
        );
        const queued = entries.slice(Math.max(0, entries.length - write.count));
        await this.insertIgnoringDuplicates(
          queued.map((entry) => ({
            _id: queueEntryId(session, entry.seq),
            session,
            seq: entry.seq,
            stanza: entry.stanza,
            at: entry.at,
          })),
        );
        return queued.map((entry) => entry.seq);
      }
    }
  }

  private async applyHRecord({ session, hRecord }: Projection): Promise<void> {
    if (hRecord.kind === 'put') {
      const { record } = hRecord;
      await this.store.run(SmHRecords, 'replaceOne', (collection) =>
        collection.replaceOne({ _id: session }, record, { upsert: true }),
      );
    } else if (hRecord.kind === 'delete') {
      await this.store.run(SmHRecords, 'deleteOne', (collection) => collection.deleteOne({ _id: session }));
    }
  }

  private async applySession({ session, sessionWrite }: Projection, queueSeqs: number[]): Promise<void> {
    if (sessionWrite.kind === 'deadline') {
      const { deadline, lastSeq, updatedAt } = sessionWrite;
      await this.store.run(SmSessions, 'updateOne', (collection) =>
        collection.updateOne({ _id: session }, { $set: { deadline, lastSeq, updatedAt } }),
      );
      return;
    }
    if (sessionWrite.kind === 'queue-length') {
      const { queueLength, lastSeq, updatedAt } = sessionWrite;
      await this.store.run(SmSessions, 'updateOne', (collection) =>
        collection.updateOne({ _id: session }, { $set: { queueLength, queueSeqs, lastSeq, updatedAt } }),
      );
      return;
    }
    await this.store.run(SmSessions, 'replaceOne', (collection) =>
      collection.replaceOne({ _id: session }, { ...sessionWrite.document, queueSeqs }, { upsert: true }),
    );
  }

  /** Inserts queue entries; entries already there (a replay, a retried batch) are skipped. */
  private async insertIgnoringDuplicates(entries: readonly SmQueueDocument[]): Promise<void> {
    for (let start = 0; start < entries.length; start += INSERT_BATCH) {
      const batch = entries.slice(start, start + INSERT_BATCH);
      try {
        await this.store.run(SmQueue, 'insertMany', (collection) =>
          collection.insertMany(batch, { ordered: false }),
        );
      } catch (error) {
        if (!(error instanceof DuplicateKeyError) || !onlyDuplicates(error.cause)) throw error;
      }
    }
  }
}

/** An unordered bulk insert whose every failure was a duplicate key (error 11000). */
function onlyDuplicates(cause: unknown): boolean {
  const { code, writeErrors } = (cause ?? {}) as { code?: unknown; writeErrors?: unknown };
  if (writeErrors === undefined) return code === DUPLICATE_KEY;
  const list = Array.isArray(writeErrors) ? (writeErrors as unknown[]) : [writeErrors];
  return list.every((writeError) => (writeError as { code?: unknown } | undefined)?.code === DUPLICATE_KEY);
}

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

import { isReplay, projectEvent, queueEntryId, type Projection, type QueueWrite } from './project-event.js';

/** Queue entries inserted per command when a hibernation starts with a long queue. */
const INSERT_BATCH = 500;
const DUPLICATE_KEY = 11000;

/**
 * Writes the session log's fence lanes into MongoDB (`sm_sessions`, `sm_queue`, `sm_h_records`), one
 * event at a time in each session's order. Idempotent: an event at or below a session's `lastSeq` changes
 * nothing, and the queue and h-record writes of a newer one are safe to repeat, because `lastSeq` moves
 * last (a crash in between redoes them). The writes filter on `_id` alone: the replay check is the read
 * before them, and a partition has one event in flight at a time (ProjectionConsumers), so nothing else
 * writes the document between; FerretDB answers an `_id`-only filter without decoding every document. Only single-document writes and inserts under unique ids, so
 * FerretDB 1.24 and MongoDB behave alike (docs/ferretdb-compatibility.md).
 */
export class SessionProjector {
  constructor(
    private readonly store: Store,
    private readonly log: SessionLog,
  ) {}

  async apply(event: AnyEvent, seq: number): Promise<void> {
    const projection = projectEvent(event, seq);
    if (projection === undefined) return;
    const stored = await this.store.run(SmSessions, 'findOne', (collection) =>
      collection.findOne({ _id: projection.session }, { projection: { lastSeq: 1 } }),
    );
    if (isReplay(stored?.lastSeq, seq)) return;
    await this.applyQueue(projection.session, projection.queue);
    await this.applyHRecord(projection);
    await this.applySession(projection, seq);
  }

  private async applyQueue(session: string, write: QueueWrite): Promise<void> {
    switch (write.kind) {
      case 'none':
        return;
      case 'insert':
        await this.insertIgnoringDuplicates([write.entry]);
        return;
      case 'clear':
        await this.store.run(SmQueue, 'deleteMany', (collection) => collection.deleteMany({ session }));
        return;
      case 'load': {
        if (write.count === 0) return;
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
        return;
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

  private async applySession({ session, sessionWrite }: Projection, seq: number): Promise<void> {
    if (sessionWrite.kind === 'deadline') {
      const { deadline, lastSeq, updatedAt } = sessionWrite;
      await this.store.run(SmSessions, 'updateOne', (collection) =>
        collection.updateOne(
          { _id: session, lastSeq: { $lt: seq } },
          { $set: { deadline, lastSeq, updatedAt } },
        ),
      );
      return;
    }
    if (sessionWrite.kind === 'queue-length') {
      const { queueLength, lastSeq, updatedAt } = sessionWrite;
      await this.store.run(SmSessions, 'updateOne', (collection) =>
        collection.updateOne({ _id: session }, { $set: { queueLength, lastSeq, updatedAt } }),
      );
      return;
    }
    await this.store.run(SmSessions, 'replaceOne', (collection) =>
      collection.replaceOne({ _id: session }, sessionWrite.document, { upsert: true }),
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

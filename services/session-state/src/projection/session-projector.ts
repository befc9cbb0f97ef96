import type { AnyEvent } from '@holdfast/events';
import type { SessionLog } from '@holdfast/session-log';
import {
  DuplicateKeyError,
  duplicateKeyCount,
  SmHRecords,
  SmQueue,
  SmSessions,
  type SmQueueDocument,
  type SmSessionDocument,
  type Store,
} from '@holdfast/store';

import type { UserSessionsBucket } from '../limits/user-sessions-bucket.js';
import type { UserSessions } from '../limits/user-sessions.js';
import { KnownSessions } from './known-sessions.js';
import {
  isReplay,
  projectEvent,
  queueEntryId,
  type Projection,
  type QueueWrite,
  type SessionWrite,
} from './project-event.js';

/** Queue entries inserted per command when a hibernation starts with a long queue. */
const INSERT_BATCH = 500;
/** What the projection keeps about a session's queue in its `sm_sessions` document. */
type StoredQueue = Pick<SmSessionDocument, 'queueFrom' | 'queueLength'>;

/** Queue entries deleted at once (one `_id` each) when a queue is cleared. */
const DELETE_BATCH = 16;

/**
 * Writes the session log's fence lanes into MongoDB (`sm_sessions`, `sm_queue`, `sm_h_records`) and the
 * per-user index of §5 (UserSessionsBucket), one event at a time in each session's order. Idempotent: an
 * event at or below a session's `lastSeq` changes nothing, and the queue, h-record and index writes of a
 * newer one are safe to repeat, because `lastSeq` moves last (a crash in between redoes them). Every
 * filter is `_id` alone, the only one FerretDB serves from an index (docs/ferretdb-compatibility.md): the
 * replay check is the read before the writes (for a session's first event, its insert), and a partition
 * has one event in flight at a time (ProjectionConsumers), so nothing else writes the document between.
 * That read is skipped while this instance remembers its own last write of the session and applied every
 * event of the partition since (ProjectionConsumers calls `forget` otherwise). Only single-document
 * writes and inserts under unique ids, so FerretDB 1.24 and MongoDB behave alike.
 */
export class SessionProjector {
  /** This instance's own last writes: while they are current, an event needs no read first. */
  private readonly known = new KnownSessions();

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
    // A session enters its user's §5 entry when it hibernates, so its enabling returns none.
    if (sessionWrite.kind === 'create') {
      await this.create(sessionWrite.document);
      return undefined;
    }
    const indexed = sessionWrite.kind === 'replace' ? sessionWrite : undefined;
    const { session } = projection;
    const stored =
      this.known.get(session) ??
      (await this.store.run(SmSessions, 'findOne', (collection) =>
        collection.findOne({ _id: session }, { projection: { lastSeq: 1, queueFrom: 1, queueLength: 1 } }),
      ));
    if (isReplay(stored?.lastSeq, seq)) {
      return indexed === undefined ? undefined : this.users.get(indexed.document.bareJid);
    }
    try {
      const queueFrom = await this.applyQueue(session, projection.queue, stored, seq);
      await this.applyHRecord(projection);
      const user = indexed === undefined ? undefined : await this.users.apply(indexed.document);
      await this.applySession(projection, queueFrom);
      this.known.set(session, {
        lastSeq: seq,
        ...(queueFrom === undefined ? {} : { queueFrom }),
        queueLength: queueLengthAfter(sessionWrite, stored),
      });
      return user;
    } catch (error) {
      // Some of its writes may be done: the retry reads what is stored.
      this.known.delete(session);
      throw error;
    }
  }

  /**
   * Inserts a new session's document. Its first event writes nothing else (no queue, no h-record, no §5
   * entry), and a document already there was written by this event or a later one: the insert's duplicate
   * key is the replay check, with no read before it.
   */
  private async create(document: SmSessionDocument): Promise<void> {
    try {
      await this.store.run(SmSessions, 'insertOne', (collection) => collection.insertOne(document));
      this.known.set(document._id, { lastSeq: document.lastSeq, queueLength: 0 });
    } catch (error) {
      if (!(error instanceof DuplicateKeyError)) throw error;
      // A replay: what is stored is newer than what this instance knows.
      this.known.delete(document._id);
    }
  }

  /**
   * Forgets what this instance wrote for a partition's sessions: another instance may have applied an
   * event of that partition since (ProjectionConsumers tells), so the next event of each reads again.
   */
  forget(partition: number): void {
    this.known.forget(partition);
  }

  /**
   * Writes the queue change of the event at `seq`; returns where the session's queue entries start in
   * its log afterwards (undefined: it has none).
   */
  private async applyQueue(
    session: string,
    write: QueueWrite,
    stored: StoredQueue | null,
    seq: number,
  ): Promise<number | undefined> {
    switch (write.kind) {
      case 'none':
        return stored?.queueFrom;
      case 'insert':
        await this.insertIgnoringDuplicates([write.entry]);
        return stored?.queueFrom ?? write.entry.seq;
      case 'clear':
        await this.clearQueue(session, stored, seq);
        return undefined;
      case 'load': {
        if (write.count === 0) return write.afterSeq + 1;
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
        return write.afterSeq + 1;
      }
    }
  }

  /**
   * Deletes the session's `sm_queue` entries by `_id`: every queue entry of its log from `queueFrom` up to
   * the clearing event at `seq` (an id with no document deletes nothing). A document written before
   * `queueFrom` existed is cleared by `session`, which FerretDB answers by reading the whole collection.
   */
  private async clearQueue(session: string, stored: StoredQueue | null, seq: number): Promise<void> {
    // The document counts the entries it holds (every insert sets the length), so none: nothing to read.
    if (stored === null || stored.queueLength === 0) return;
    if (stored.queueFrom === undefined) {
      await this.store.run(SmQueue, 'deleteMany', (collection) => collection.deleteMany({ session }));
      return;
    }
    const seqs = (await this.log.entries(session, stored.queueFrom))
      .map((entry) => entry.seq)
      .filter((entrySeq) => entrySeq < seq);
    for (let start = 0; start < seqs.length; start += DELETE_BATCH) {
      await Promise.all(
        seqs
          .slice(start, start + DELETE_BATCH)
          .map((entrySeq) =>
            this.store.run(SmQueue, 'deleteOne', (collection) =>
              collection.deleteOne({ _id: queueEntryId(session, entrySeq) }),
            ),
          ),
      );
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

  private async applySession(
    { session, sessionWrite }: Projection,
    queueFrom: number | undefined,
  ): Promise<void> {
    const from = queueFrom === undefined ? {} : { queueFrom };
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
        collection.updateOne({ _id: session }, { $set: { queueLength, lastSeq, updatedAt, ...from } }),
      );
      return;
    }
    await this.store.run(SmSessions, 'replaceOne', (collection) =>
      collection.replaceOne({ _id: session }, { ...sessionWrite.document, ...from }, { upsert: true }),
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
        if (!(error instanceof DuplicateKeyError) || duplicateKeyCount(error) === undefined) throw error;
      }
    }
  }
}

/** The queue length the session's document holds after `write` (a moved deadline leaves it as it was). */
function queueLengthAfter(write: SessionWrite, stored: StoredQueue | null): number {
  switch (write.kind) {
    case 'create':
    case 'replace':
      return write.document.queueLength;
    case 'queue-length':
      return write.queueLength;
    case 'deadline':
      return stored?.queueLength ?? 0;
  }
}

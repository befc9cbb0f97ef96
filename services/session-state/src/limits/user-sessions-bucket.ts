import { LazyBucket, isWrongLastSequence, type Bus } from '@holdfast/bus';
import { encodeToken } from '@holdfast/events';
import type { SmSessionDocument } from '@holdfast/store';

import { NO_SESSIONS, isEmpty, parseUserSessions, withSession, type UserSessions } from './user-sessions.js';

export const DEFAULT_USER_SESSIONS_BUCKET = 'HF_SM_USERS';

const MAX_ATTEMPTS = 20;

export interface UserSessionsBucketOptions {
  readonly bucket?: string;
  readonly replicas?: number;
}

/**
 * The per-user index of spec §5 (hibernating sessions, kept h-records), one JetStream KV entry per bare
 * JID, changed by compare-and-set. Why not a `bareJid` query on the projection: the sessions of one user
 * are projected by different partitions (and instances) at once, so a per-user document would need an
 * atomic conditional update, which FerretDB does not have, and FerretDB serves no filter but `_id` from
 * an index (docs/ferretdb-compatibility.md): at 100,000 sessions each such query took seconds.
 */
export class UserSessionsBucket {
  private readonly bucket: LazyBucket;

  constructor(bus: Bus, options: UserSessionsBucketOptions = {}) {
    this.bucket = new LazyBucket(bus, options.bucket ?? DEFAULT_USER_SESSIONS_BUCKET, {
      description: 'Holdfast: hibernating sessions and kept h-records per user (stream management §5)',
      history: 1,
      replicas: options.replicas ?? 1,
    });
  }

  async get(bareJid: string): Promise<UserSessions> {
    return (await this.read(encodeToken(bareJid))).entry;
  }

  /**
   * Records the session's projected state in its user's entry and returns the entry. Idempotent: applying
   * the same state again changes nothing (a replay after a crash).
   */
  async apply(document: SmSessionDocument): Promise<UserSessions> {
    const key = encodeToken(document.bareJid);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const { entry, revision } = await this.read(key);
      const next = withSession(entry, document);
      if (next === entry) return entry;
      try {
        const kv = await this.bucket.kv();
        if (isEmpty(next)) await kv.delete(key, { previousSeq: revision });
        else await kv.put(key, JSON.stringify(next), { previousSeq: revision });
        return next;
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
    }
    throw new Error(
      `user ${document.bareJid}: still losing the compare-and-set after ${MAX_ATTEMPTS} attempts`,
    );
  }

  /** The entry under `key` and the revision to write on top of (0: never written). */
  private async read(key: string): Promise<{ entry: UserSessions; revision: number }> {
    const stored = await (await this.bucket.kv()).get(key);
    if (stored === null) return { entry: NO_SESSIONS, revision: 0 };
    if (stored.operation !== 'PUT') return { entry: NO_SESSIONS, revision: stored.revision };
    // An unreadable entry is replaced by the next write: the index only speeds up the limits, and each
    // of the user's sessions enters it again with its next state change.
    return { entry: parseUserSessions(stored.string()) ?? NO_SESSIONS, revision: stored.revision };
  }
}

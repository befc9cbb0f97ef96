import type { UserScramCredentials } from '@holdfast/sasl';

import { defineCollection } from './collection.js';

/**
 * Every collection Holdfast keeps, with its indexes: the one place they are declared. `ensureIndexes`
 * creates them at service start. Documents are written with single-document atomic operations only
 * (FerretDB 1.x has no multi-document transactions).
 */

export interface UserDocument {
  /** The bare JID, normalised (RFC 7622). */
  readonly _id: string;
  /** RFC 5802 salted credentials: the server never stores the password, only what SCRAM needs. */
  readonly scram: UserScramCredentials;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export const Users = defineCollection<UserDocument>({ name: 'users' });

/** XEP-0160 offline storage: messages for a user with no available resource, in arrival order. */
export interface OfflineMessageDocument {
  readonly _id: string;
  /** The recipient's bare JID. */
  readonly owner: string;
  /** The message as XML, already stamped with its XEP-0203 delay. */
  readonly stanza: string;
  readonly storedAt: Date;
}

export const OfflineMessages = defineCollection<OfflineMessageDocument>({
  name: 'offline_messages',
  indexes: [{ name: 'owner_storedAt', key: { owner: 1, storedAt: 1 } }],
});

/**
 * One version of one roster item (RFC 6121 §2) with its subscription state (Appendix A). Documents are
 * never updated: a change inserts the next version under a unique `_id`, then older versions are deleted.
 *
 * Why not an update filtered on `version`: FerretDB 1.24 (SQLite) does not
 * evaluate the filter atomically with the write. Measured with two connections: of twelve concurrent
 * `updateOne({ _id, version: n }, …)` (likewise `findOneAndUpdate`, `replaceOne`, `bulkWrite`) all twelve
 * report a match and most changes are lost. An insert under a unique `_id` is atomic on FerretDB and
 * MongoDB alike, so inserting version n+1 is the compare-and-set.
 *
 * Deleting old versions makes room for an ABA: a slow writer that read version n can insert n+1 after
 * n+1 was written and pruned away by a later writer. Its document then sits below the latest version,
 * invisible to readers; `lineage` lets the writer see that and decide again (see the gateway's `RosterRepository`).
 */
export interface RosterDocument {
  /** `rosterDocumentId(owner, jid, version)`. */
  readonly _id: string;
  /** The roster's user, a bare JID. */
  readonly owner: string;
  /** The contact, a bare JID. */
  readonly jid: string;
  /** 1 for the first write of (owner, jid), then +1 per change, also across removals. */
  readonly version: number;
  /**
   * The item was removed at this version. The latest version always stays, tombstone or not, so versions
   * never restart and a writer holding an old read cannot overwrite a removal.
   */
  readonly removed?: true;
  readonly name?: string;
  readonly groups: string[];
  readonly subscription: 'none' | 'to' | 'from' | 'both';
  readonly ask?: 'subscribe';
  readonly pendingIn: boolean;
  readonly pendingInStatus?: string;
  readonly approved?: true;
  readonly listed: boolean;
  /** A token of the write, so a writer whose reply was lost recognises its own insert. */
  readonly writer: string;
  /** `writer` of this version and of the ones it was built on, newest first, at most `ROSTER_LINEAGE`. */
  readonly lineage: string[];
}

export const RosterItems = defineCollection<RosterDocument>({
  name: 'roster',
  indexes: [{ name: 'owner_jid_version', key: { owner: 1, jid: 1, version: -1 } }],
});

/** Cluster-wide values created once and shared by every process (e.g. secrets), by name. */
export interface SettingDocument {
  readonly _id: string;
  readonly value: string;
  readonly createdAt: Date;
}

export const Settings = defineCollection<SettingDocument>({ name: 'settings' });

/**
 * Stream-management sessions as session-state projects them from the session log (`HF_SESSION`, the
 * `f.>` lanes): a read model for the admin API, per-user limits and takeovers. The log stays the truth;
 * `lastSeq` makes the projection idempotent (an event at or below it is a replay and changes nothing).
 */
export interface SmSessionDocument {
  /** The session id (the public part of the SM-ID). */
  readonly _id: string;
  readonly jid: string;
  readonly bareJid: string;
  readonly status: 'ACTIVE' | 'HIBERNATING' | 'TERMINATED';
  /** Gateway node holding the connection while ACTIVE. */
  readonly owner?: string;
  readonly resumable: boolean;
  /** The fence (spec §2.1). */
  readonly version: number;
  readonly h: number;
  readonly acked: number;
  readonly enabledAt: Date;
  readonly hibernatedAt?: Date;
  readonly deadline?: Date;
  readonly terminatedKind?: 'closed' | 'expired' | 'evicted' | 'overflow';
  readonly recordKept?: boolean;
  /** Stanzas in the hibernation queue (0 while ACTIVE: a connected session's queue lives in the log). */
  readonly queueLength: number;
  /**
   * Stream sequence from which the hibernation's `sm_queue` entries come from the log: a clear deletes
   * the log's queue entries from there by `_id` (FerretDB serves no other filter from an index,
   * docs/ferretdb-compatibility.md).
   */
  readonly queueFrom?: number;
  /** Stream sequence of the last event applied. */
  readonly lastSeq: number;
  readonly updatedAt: Date;
}

export const SmSessions = defineCollection<SmSessionDocument>({
  name: 'sm_sessions',
  indexes: [
    { name: 'owner_status', key: { owner: 1, status: 1 } },
    { name: 'bareJid', key: { bareJid: 1 } },
  ],
});

/** One stanza of a hibernating session's queue (spec §2.4), deleted when the session resumes or ends. */
export interface SmQueueDocument {
  /** `<session>:<stream sequence>`: a replayed insert is a duplicate key, harmless. */
  readonly _id: string;
  readonly session: string;
  /** Stream sequence of the entry in the session log: its place in the queue. */
  readonly seq: number;
  /** The delay-stamped copy (§2.5). */
  readonly stanza: string;
  readonly at: Date;
}

export const SmQueue = defineCollection<SmQueueDocument>({
  name: 'sm_queue',
  indexes: [{ name: 'session_seq', key: { session: 1, seq: 1 } }],
});

/** The h-record of a session terminated as expired, evicted or overflow, for one `<failed h/>` (§5). */
export interface SmHRecordDocument {
  /** The session id. */
  readonly _id: string;
  readonly bareJid: string;
  readonly h: number;
  readonly terminatedAt: Date;
}

export const SmHRecords = defineCollection<SmHRecordDocument>({
  name: 'sm_h_records',
  indexes: [{ name: 'bareJid_terminatedAt', key: { bareJid: 1, terminatedAt: 1 } }],
});

/**
 * One message in one user's archive (XEP-0313 message archive management): a chat or normal message the
 * user sent or received, stored once per archive however often it was delivered or retried.
 */
export interface MamArchiveDocument {
  /**
   * `<origin>>` + owner, `origin` naming the client stanza routed (`<stream id>.<seq>`): the same message
   * archived again (a retried write or delivery) is a duplicate key, and keeps its first `id`.
   */
  readonly _id: string;
  /** The archive's user (a bare JID). */
  readonly owner: string;
  /**
   * The archive id (RSM uid, XEP-0359 stanza-id): unique in the archive, and sorting as the archive does
   * (a time-ordered prefix), so pages and time bounds are ranges of it.
   */
  readonly id: string;
  /** The other party's bare JID (the `with` filter of a bare JID). */
  readonly with: string;
  /** The other party's JID as the message named it, full when it had a resource (`with` a full JID). */
  readonly withFull: string;
  /** When it was archived: the delay stamp of its results. */
  readonly at: Date;
  /** The message as routed (XML), without the archive's own stanza-id. */
  readonly stanza: string;
}

export const MamArchive = defineCollection<MamArchiveDocument>({
  name: 'mam_archive',
  indexes: [
    { name: 'owner_id', key: { owner: 1, id: 1 }, unique: true },
    { name: 'owner_with_id', key: { owner: 1, with: 1, id: 1 } },
  ],
});

export const COLLECTIONS = [
  Users,
  OfflineMessages,
  RosterItems,
  Settings,
  SmSessions,
  SmQueue,
  SmHRecords,
  MamArchive,
] as const;

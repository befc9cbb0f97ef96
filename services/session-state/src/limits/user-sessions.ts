import type { SmSessionDocument } from '@holdfast/store';

import type { Hibernating, KeptRecord } from './decide-limits.js';

/**
 * What the spec §5 limits need to know about one user: its hibernating sessions and its kept h-records.
 * Derived from the projection of each session's state, so a replayed event yields the same entry.
 */
export interface UserSessions {
  /** Session id → the fence and when it started hibernating (RFC 3339). */
  readonly hibernating: Readonly<Record<string, { readonly version: number; readonly hibernatedAt: string }>>;
  /** Session id → when its h-record was kept (RFC 3339; the `terminatedAt` of `sm_h_records`). */
  readonly records: Readonly<Record<string, string>>;
}

export const NO_SESSIONS: UserSessions = { hibernating: {}, records: {} };

/**
 * The user's entry once one of its sessions reached the state projected as `document`; `entry` itself
 * when that changes nothing (a replay, a state the index does not hold). Pure.
 */
export function withSession(entry: UserSessions, document: SmSessionDocument): UserSessions {
  const session = document._id;
  const hibernatingNow =
    document.status === 'HIBERNATING'
      ? {
          version: document.version,
          hibernatedAt: (document.hibernatedAt ?? document.updatedAt).toISOString(),
        }
      : undefined;
  const recordNow =
    document.status === 'TERMINATED' && document.recordKept === true
      ? document.updatedAt.toISOString()
      : undefined;
  const before = entry.hibernating[session];
  if (
    before?.version === hibernatingNow?.version &&
    before?.hibernatedAt === hibernatingNow?.hibernatedAt &&
    entry.records[session] === recordNow
  ) {
    return entry;
  }
  const hibernating = without(entry.hibernating, session);
  const records = without(entry.records, session);
  return {
    hibernating: hibernatingNow === undefined ? hibernating : { ...hibernating, [session]: hibernatingNow },
    records: recordNow === undefined ? records : { ...records, [session]: recordNow },
  };
}

export function isEmpty(entry: UserSessions): boolean {
  return Object.keys(entry.hibernating).length === 0 && Object.keys(entry.records).length === 0;
}

export function hibernatingOf(entry: UserSessions): Hibernating[] {
  return Object.entries(entry.hibernating).map(([session, { version, hibernatedAt }]) => ({
    session,
    version,
    hibernatedAt: new Date(hibernatedAt),
  }));
}

export function recordsOf(entry: UserSessions): KeptRecord[] {
  return Object.entries(entry.records).map(([session, terminatedAt]) => ({
    session,
    terminatedAt: new Date(terminatedAt),
  }));
}

/** How many of the user's other records were kept after `terminatedAt` (a resume's §5 read-time prune). */
export function newerRecordCount(entry: UserSessions, session: string, terminatedAt: Date): number {
  return recordsOf(entry).filter(
    (record) => record.session !== session && record.terminatedAt.getTime() > terminatedAt.getTime(),
  ).length;
}

/** Parses a stored entry; undefined if it is not one (the caller reports it). */
export function parseUserSessions(text: string): UserSessions | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { hibernating, records } = value as { hibernating?: unknown; records?: unknown };
  const isMap = (map: unknown, valid: (item: unknown) => boolean): boolean =>
    typeof map === 'object' && map !== null && Object.values(map).every(valid);
  const validHibernating = isMap(hibernating, (item) => {
    const { version, hibernatedAt } = (item ?? {}) as { version?: unknown; hibernatedAt?: unknown };
    return Number.isInteger(version) && typeof hibernatedAt === 'string';
  });
  const validRecords = isMap(records, (item) => typeof item === 'string');
  return validHibernating && validRecords ? (value as UserSessions) : undefined;
}

function without<T>(map: Readonly<Record<string, T>>, key: string): Record<string, T> {
  return Object.fromEntries(Object.entries(map).filter(([name]) => name !== key));
}

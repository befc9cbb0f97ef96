import { describe, expect, it } from 'vitest';
import type { SmSessionDocument } from '@holdfast/store';

import {
  NO_SESSIONS,
  hibernatingOf,
  isEmpty,
  newerRecordCount,
  parseUserSessions,
  recordsOf,
  withSession,
} from './user-sessions.js';

const at = (s: number): Date => new Date(Date.parse('2026-01-01T00:00:00Z') + s * 1000);

function state(session: string, patch: Partial<SmSessionDocument>): SmSessionDocument {
  return {
    _id: session,
    jid: 'alice@localhost/phone',
    bareJid: 'alice@localhost',
    status: 'ACTIVE',
    resumable: true,
    version: 1,
    h: 0,
    acked: 0,
    enabledAt: at(0),
    queueLength: 0,
    lastSeq: 1,
    updatedAt: at(1),
    ...patch,
  };
}

describe('the per-user index of spec §5', () => {
  it('follows a session from hibernating to a kept record and back out when the record is revoked', () => {
    const hibernating = withSession(
      NO_SESSIONS,
      state('s1', { status: 'HIBERNATING', version: 2, hibernatedAt: at(5), updatedAt: at(5) }),
    );
    expect(hibernatingOf(hibernating)).toEqual([{ session: 's1', version: 2, hibernatedAt: at(5) }]);
    expect(recordsOf(hibernating)).toEqual([]);

    const expired = withSession(
      hibernating,
      state('s1', { status: 'TERMINATED', recordKept: true, updatedAt: at(9) }),
    );
    expect(hibernatingOf(expired)).toEqual([]);
    expect(recordsOf(expired)).toEqual([{ session: 's1', terminatedAt: at(9) }]);

    const revoked = withSession(
      expired,
      state('s1', { status: 'TERMINATED', recordKept: false, updatedAt: at(12) }),
    );
    expect(isEmpty(revoked)).toBe(true);
  });

  it('drops a session that resumed, and leaves the user’s other sessions as they are', () => {
    const two = withSession(
      withSession(NO_SESSIONS, state('s1', { status: 'HIBERNATING', hibernatedAt: at(1) })),
      state('s2', { status: 'HIBERNATING', hibernatedAt: at(2) }),
    );
    const resumed = withSession(two, state('s1', { status: 'ACTIVE', version: 2 }));
    expect(hibernatingOf(resumed).map((entry) => entry.session)).toEqual(['s2']);
  });

  it('gives the same entry when the same state is applied again (a replayed event)', () => {
    const document = state('s1', { status: 'TERMINATED', recordKept: true, updatedAt: at(3) });
    const once = withSession(NO_SESSIONS, document);
    expect(withSession(once, document)).toBe(once);
    expect(withSession(NO_SESSIONS, state('s2', { status: 'ACTIVE' }))).toBe(NO_SESSIONS);
  });

  it('a terminated session without a kept record is not in the index', () => {
    const closed = withSession(NO_SESSIONS, state('s1', { status: 'TERMINATED', recordKept: false }));
    expect(isEmpty(closed)).toBe(true);
  });

  it('counts the other records kept after a given time', () => {
    let entry = NO_SESSIONS;
    for (const [session, second] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ] as const) {
      entry = withSession(
        entry,
        state(session, { status: 'TERMINATED', recordKept: true, updatedAt: at(second) }),
      );
    }
    expect(newerRecordCount(entry, 'a', at(1))).toBe(2);
    expect(newerRecordCount(entry, 'b', at(2))).toBe(1);
    expect(newerRecordCount(entry, 'c', at(3))).toBe(0);
  });

  it('parses what it stores and refuses anything else', () => {
    const entry = withSession(NO_SESSIONS, state('s1', { status: 'HIBERNATING', hibernatedAt: at(1) }));
    expect(parseUserSessions(JSON.stringify(entry))).toEqual(entry);
    for (const text of [
      '',
      'null',
      '[]',
      '{"hibernating":{},"records":{"s":1}}',
      '{"hibernating":{"s":{}},"records":{}}',
    ]) {
      expect(parseUserSessions(text)).toBeUndefined();
    }
  });
});

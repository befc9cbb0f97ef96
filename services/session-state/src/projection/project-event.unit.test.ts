import { describe, expect, it } from 'vitest';
import type { AnyEvent, EventOf, SmState } from '@holdfast/events';

import { isReplay, projectEvent } from './project-event.js';

const AT = '2025-03-01T12:00:00.000Z';
const metadata = { id: 'e', version: 1, at: AT, node: 'gw-a' };

const active: SmState = {
  version: 1,
  status: 'ACTIVE',
  jid: 'alice@localhost/phone',
  resumable: true,
  max: 60,
  owner: 'gw-a',
  enabledAt: '2025-03-01T11:00:00.000Z',
  h: 0,
  acked: 0,
  ackedThrough: 0,
  writtenThrough: 0,
};
const unowned: SmState = { ...active };
delete unowned.owner;

function event<T extends AnyEvent['type']>(type: T, data: EventOf<T>['data']): AnyEvent {
  return { type, data, metadata } as AnyEvent;
}

describe('projectEvent', () => {
  it('given sm.enabled, then the session document mirrors the state and nothing is queued', () => {
    const projection = projectEvent(
      event('sm.enabled', { session: 's1', jid: active.jid, resumable: true, max: 60, state: active }),
      5,
    );
    expect(projection).toEqual({
      session: 's1',
      sessionWrite: {
        kind: 'create',
        document: {
          _id: 's1',
          jid: 'alice@localhost/phone',
          bareJid: 'alice@localhost',
          status: 'ACTIVE',
          owner: 'gw-a',
          resumable: true,
          version: 1,
          h: 0,
          acked: 0,
          enabledAt: new Date('2025-03-01T11:00:00.000Z'),
          queueLength: 0,
          lastSeq: 5,
          updatedAt: new Date(AT),
        },
      },
      queue: { kind: 'none' },
      hRecord: { kind: 'none' },
    });
  });

  it('given sm.hibernation_started, then the queue is loaded from the log between the ack and the event', () => {
    const state: SmState = {
      ...unowned,
      status: 'HIBERNATING',
      hibernatedAt: AT,
      deadline: '2025-03-01T12:01:00.000Z',
      ackedThrough: 7,
      acked: 2,
    };
    const projection = projectEvent(
      event('sm.hibernation_started', {
        session: 's1',
        jid: state.jid,
        deadline: state.deadline ?? '',
        queued: 3,
        state,
      }),
      12,
    );
    expect(projection?.queue).toEqual({ kind: 'load', afterSeq: 7, beforeSeq: 12, count: 3 });
    expect(projection?.sessionWrite).toMatchObject({
      kind: 'replace',
      document: { status: 'HIBERNATING', queueLength: 3, deadline: new Date('2025-03-01T12:01:00.000Z') },
    });
    expect(projection?.sessionWrite.kind === 'replace' && 'owner' in projection.sessionWrite.document).toBe(
      false,
    );
  });

  it('given a queued stanza, then one queue entry keyed by session and sequence, and the new length', () => {
    const projection = projectEvent(
      event('sm.hibernation_stanza_queued', {
        session: 's1',
        jid: active.jid,
        stanza: '<message/>',
        queueLength: 4,
      }),
      13,
    );
    expect(projection?.queue).toEqual({
      kind: 'insert',
      entry: { _id: 's1:13', session: 's1', seq: 13, stanza: '<message/>', at: new Date(AT) },
    });
    expect(projection?.sessionWrite).toEqual({
      kind: 'queue-length',
      queueLength: 4,
      lastSeq: 13,
      updatedAt: new Date(AT),
    });
  });

  it('given a resume claim, then the queue is cleared', () => {
    const projection = projectEvent(
      event('sm.hibernation_ended', {
        session: 's1',
        jid: active.jid,
        hibernatedS: 3,
        resent: 1,
        state: { ...active, version: 2, owner: 'gw-b' },
      }),
      14,
    );
    expect(projection?.queue).toEqual({ kind: 'clear' });
    expect(projection?.sessionWrite).toMatchObject({
      document: { owner: 'gw-b', version: 2, queueLength: 0 },
    });
  });

  it('given a termination that keeps h, then an h-record; a later one that does not, then its deletion', () => {
    const expired: SmState = {
      ...unowned,
      status: 'TERMINATED',
      terminatedKind: 'expired',
      recordKept: true,
      h: 4,
    };
    const kept = projectEvent(
      event('sm.session_terminated', {
        session: 's1',
        jid: active.jid,
        kind: 'expired',
        h: 4,
        unacked: 0,
        state: expired,
      }),
      15,
    );
    expect(kept?.hRecord).toEqual({
      kind: 'put',
      record: { _id: 's1', bareJid: 'alice@localhost', h: 4, terminatedAt: new Date(AT) },
    });
    expect(kept?.queue).toEqual({ kind: 'clear' });
    const revoked = projectEvent(
      event('sm.session_terminated', {
        session: 's1',
        jid: active.jid,
        kind: 'expired',
        h: 4,
        unacked: 0,
        state: { ...expired, recordKept: false },
      }),
      16,
    );
    expect(revoked?.hRecord).toEqual({ kind: 'delete' });
  });

  it('ignores events outside the fence lanes', () => {
    expect(projectEvent(event('sm.acked', { session: 's1', acked: 1 }), 3)).toBeUndefined();
  });
});

describe('isReplay', () => {
  it('treats an event at or below the applied sequence as a replay', () => {
    expect(isReplay(undefined, 1)).toBe(false);
    expect(isReplay(5, 6)).toBe(false);
    expect(isReplay(5, 5)).toBe(true);
    expect(isReplay(5, 4)).toBe(true);
  });
});

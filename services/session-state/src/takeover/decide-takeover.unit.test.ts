import { describe, expect, it } from 'vitest';
import type { SmState } from '@holdfast/events';
import type { QueueEntry, SessionSnapshot } from '@holdfast/session-log';

import { decideTakeover } from './decide-takeover.js';

const NOW = new Date('2025-03-01T12:00:00.000Z');

const active: SmState = {
  version: 3,
  status: 'ACTIVE',
  jid: 'alice@localhost/phone',
  resumable: true,
  secretHash: 'hash',
  max: 60,
  owner: 'gw-a',
  enabledAt: '2025-03-01T11:00:00.000Z',
  h: 2,
  acked: 1,
  ackedThrough: 10,
  writtenThrough: 12,
};

function entry(seq: number): QueueEntry {
  return { seq, kind: 'sent', stanza: `<message id='${seq}'/>`, at: NOW };
}

/** A snapshot whose log moved on since the state event: more inbound stanzas, a later ack, two unacked. */
function given(state: SmState, entries: QueueEntry[] = [entry(14), entry(15)]): SessionSnapshot {
  return {
    session: 'sess-0001',
    record: { state, seq: 12, at: NOW },
    fence: 15,
    h: 7,
    acked: 4,
    ackedThrough: 13,
    entries,
    sent: 6,
  };
}

describe('decideTakeover', () => {
  it('given an ACTIVE resumable session of the dead gateway, then it hibernates with the log’s counters (T5)', () => {
    const decision = decideTakeover(given(active), 'gw-a', NOW);
    expect(decision).toEqual({
      kind: 'hibernate',
      event: {
        id: 'sess-0001.takeover.3.15',
        at: NOW,
        data: {
          session: 'sess-0001',
          jid: 'alice@localhost/phone',
          deadline: '2025-03-01T12:01:00.000Z',
          queued: 2,
          state: {
            version: 3,
            status: 'HIBERNATING',
            jid: 'alice@localhost/phone',
            resumable: true,
            secretHash: 'hash',
            max: 60,
            enabledAt: '2025-03-01T11:00:00.000Z',
            hibernatedAt: '2025-03-01T12:00:00.000Z',
            deadline: '2025-03-01T12:01:00.000Z',
            h: 7,
            acked: 4,
            ackedThrough: 13,
            writtenThrough: 12,
          },
        },
      },
    });
  });

  it('given an ACTIVE session that is not resumable, then it ends as closed without an h-record (T6)', () => {
    const decision = decideTakeover(given({ ...active, resumable: false, max: 0 }), 'gw-a', NOW);
    expect(decision.kind).toBe('terminate');
    if (decision.kind !== 'terminate') return;
    expect(decision.event.id).toBe('sess-0001.takeover.3.15');
    expect(decision.event.data).toMatchObject({ kind: 'closed', h: 7, unacked: 2 });
    expect(decision.event.data.state).toMatchObject({
      status: 'TERMINATED',
      terminatedKind: 'closed',
      recordKept: false,
      h: 7,
      acked: 4,
    });
    expect(decision.event.data.state.owner).toBeUndefined();
  });

  it('given a session resumed on another gateway meanwhile, then it is left alone', () => {
    expect(decideTakeover(given({ ...active, owner: 'gw-b', version: 4 }), 'gw-a', NOW)).toEqual({
      kind: 'leave',
      reason: 'other-owner',
    });
  });

  it('given a session already hibernating or ended, then it is left alone', () => {
    const unowned: SmState = { ...active };
    delete unowned.owner;
    for (const status of ['HIBERNATING', 'TERMINATED'] as const) {
      expect(decideTakeover(given({ ...unowned, status }), 'gw-a', NOW)).toEqual({
        kind: 'leave',
        reason: 'not-active',
      });
    }
  });

  it('given an empty queue, then nothing is counted as queued', () => {
    const decision = decideTakeover(given(active, []), 'gw-a', NOW);
    expect(decision.kind === 'hibernate' && decision.event.data.queued).toBe(0);
  });

  it('decides the same event id for the same snapshot, and a new one once the fence moved', () => {
    const first = decideTakeover(given(active), 'gw-a', NOW);
    const again = decideTakeover(given(active), 'gw-a', new Date(NOW.getTime() + 1000));
    const moved = decideTakeover({ ...given(active), fence: 16 }, 'gw-a', NOW);
    const idOf = (d: typeof first) => (d.kind === 'leave' ? undefined : d.event.id);
    expect(idOf(again)).toBe(idOf(first));
    expect(idOf(moved)).toBe('sess-0001.takeover.3.16');
  });
});

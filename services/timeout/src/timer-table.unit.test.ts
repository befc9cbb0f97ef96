import { describe, expect, it } from 'vitest';

import { FINISH_CHECK, TimerTable } from './timer-table.js';

const at = (ms: number): string => new Date(ms).toISOString();
const hibernating = (version: number, deadline: number) =>
  ({ status: 'HIBERNATING', version, deadline: at(deadline) }) as const;

describe('TimerTable', () => {
  it('hands out due timers earliest first, and only when due', () => {
    const table = new TimerTable();
    table.observe('c', 3, hibernating(1, 3000));
    table.observe('a', 1, hibernating(1, 1000));
    table.observe('b', 2, hibernating(1, 2000));
    expect(table.due(999)).toEqual([]);
    expect(table.due(2000).map((timer) => timer.session)).toEqual(['a', 'b']);
    expect(table.due(10_000).map((timer) => timer.session)).toEqual(['c']);
  });

  it('a later state of the session voids its timer (resumed, terminated, moved)', () => {
    const table = new TimerTable();
    table.observe('a', 1, hibernating(1, 1000));
    table.observe('a', 2, { status: 'ACTIVE', version: 2 });
    table.observe('b', 3, hibernating(1, 1000));
    table.observe('b', 4, { status: 'TERMINATED', version: 1 });
    table.observe('c', 5, hibernating(1, 1000));
    table.observe('c', 6, hibernating(1, 5000));
    expect(table.due(2000)).toEqual([]);
    expect(table.due(5000)).toEqual([{ session: 'c', version: 1, seq: 6, deadline: 5000 }]);
    expect(table.size).toBe(1);
  });

  it('ignores a state at or below the sequence it knows', () => {
    const table = new TimerTable();
    table.observe('a', 5, hibernating(2, 1000));
    table.observe('a', 4, { status: 'ACTIVE', version: 2 });
    expect(table.due(1000).map((timer) => timer.seq)).toEqual([5]);
  });

  it('a hibernating state without a valid deadline arms nothing', () => {
    const table = new TimerTable();
    table.observe('a', 1, { status: 'HIBERNATING', version: 1 });
    table.observe('b', 2, { status: 'HIBERNATING', version: 1, deadline: 'not a time' });
    expect(table.size).toBe(0);
    expect(table.due(Number.MAX_SAFE_INTEGER)).toEqual([]);
  });

  it('settle ends a fired timer; rearm schedules it again unless a newer state came', () => {
    const table = new TimerTable();
    table.observe('a', 1, hibernating(1, 1000));
    table.observe('b', 2, hibernating(1, 1000));
    const [a, b] = table.due(1000);
    if (a === undefined || b === undefined) throw new Error('both due');
    table.settle(a);
    table.rearm(b, 3000);
    expect(table.size).toBe(1);
    expect(table.due(2999)).toEqual([]);
    const [again] = table.due(3000);
    expect(again).toMatchObject({ session: 'b', deadline: 3000 });
    if (again === undefined) throw new Error('due again');
    table.observe('b', 7, { status: 'ACTIVE', version: 2 });
    table.rearm(again, 4000);
    expect(table.due(10_000)).toEqual([]);
    expect(table.size).toBe(0);
  });

  it('keeps heap order over many timers', () => {
    const table = new TimerTable();
    const deadlines = Array.from({ length: 500 }, (_, index) => (index * 7919) % 1000);
    deadlines.forEach((deadline, index) => {
      table.observe(`s${index}`, index + 1, hibernating(1, deadline));
    });
    const fired = table.due(1000).map((timer) => timer.deadline);
    expect(fired).toEqual([...deadlines].sort((x, y) => x - y));
  });

  it('a termination with unacked stanzas arms a finish check after FINISH_CHECK.afterMs; none without, none when old', () => {
    const table = new TimerTable();
    const at = 1_000_000;
    table.observe(
      'a',
      1,
      { status: 'TERMINATED', version: 2, terminatedKind: 'closed' },
      { at, unacked: 3, now: at },
    );
    table.observe('b', 2, { status: 'TERMINATED', version: 1 }, { at, unacked: 0, now: at });
    table.observe(
      'c',
      3,
      { status: 'TERMINATED', version: 1, terminatedKind: 'expired' },
      { at, unacked: 1, now: at + FINISH_CHECK.maxAgeMs + 1 },
    );
    expect(table.size).toBe(1);
    expect(table.due(at + FINISH_CHECK.afterMs - 1)).toEqual([]);
    expect(table.due(at + FINISH_CHECK.afterMs)).toEqual([
      {
        session: 'a',
        version: 2,
        seq: 1,
        deadline: at + FINISH_CHECK.afterMs,
        kind: 'finish',
        terminatedKind: 'closed',
      },
    ]);
  });

  describe('h-record deletion (old_session_ttl_s, §5)', () => {
    const TTL = 60_000;
    const expired = {
      status: 'TERMINATED',
      version: 1,
      terminatedKind: 'expired',
      recordKept: true,
    } as const;

    it('a kept record is deleted TTL after its termination; without a TTL nothing is armed', () => {
      const table = new TimerTable(TTL);
      table.observe('a', 1, expired, { at: 1000, unacked: 0, now: 1000 });
      expect(table.due(1000 + TTL - 1)).toEqual([]);
      expect(table.due(1000 + TTL)).toEqual([
        { session: 'a', version: 1, seq: 1, deadline: 1000 + TTL, kind: 'forget' },
      ]);
      const none = new TimerTable();
      none.observe('a', 1, expired, { at: 1000, unacked: 0, now: 1000 });
      expect(none.size).toBe(0);
    });

    it('a record already past its TTL when loaded is due at once; a revoked record arms nothing', () => {
      const table = new TimerTable(TTL);
      table.observe('a', 1, expired, { at: 0, unacked: 0, now: 10 * TTL });
      table.observe('b', 2, { ...expired, recordKept: false }, { at: 0, unacked: 0, now: 0 });
      expect(table.due(10 * TTL).map((timer) => [timer.session, timer.kind])).toEqual([['a', 'forget']]);
      expect(table.size).toBe(1);
    });

    it('the outcome check comes first, then the deletion', () => {
      const table = new TimerTable(TTL);
      table.observe('a', 1, expired, { at: 0, unacked: 2, now: 0 });
      const [check] = table.due(FINISH_CHECK.afterMs);
      expect(check).toMatchObject({ kind: 'finish', forgetAt: TTL });
      if (check === undefined) throw new Error('check due');
      table.settleFinished(check);
      expect(table.due(TTL - 1)).toEqual([]);
      expect(table.due(TTL)).toEqual([{ session: 'a', version: 1, seq: 1, deadline: TTL, kind: 'forget' }]);
    });
  });

  it('a later state of the termination (record reported or pruned) that still counts stanzas checks again', () => {
    const table = new TimerTable();
    const ended = { status: 'TERMINATED', version: 3, terminatedKind: 'expired', recordKept: true } as const;
    table.observe('a', 1, ended, { at: 0, unacked: 1, now: 0 });
    table.observe('a', 2, { ...ended, recordKept: false }, { at: 500, unacked: 1, now: 500 });
    expect(table.due(FINISH_CHECK.afterMs)).toEqual([]);
    expect(table.due(500 + FINISH_CHECK.afterMs)).toEqual([
      {
        session: 'a',
        version: 3,
        seq: 2,
        deadline: 500 + FINISH_CHECK.afterMs,
        kind: 'finish',
        terminatedKind: 'expired',
      },
    ]);
  });
});

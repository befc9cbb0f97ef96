import { describe, expect, it } from 'vitest';

import { archiveId, nextTick, timeKey, type ArchiveTick } from './archive-id.js';

const T = Date.parse('2026-03-01T12:00:00.000Z');

describe('archive ids', () => {
  it('sort in the order they were handed out, within a millisecond and across them', () => {
    let tick: ArchiveTick | undefined;
    const ids: string[] = [];
    for (const [at, nonce] of [
      [T, 'zzzz'],
      [T, 'aaaa'],
      [T + 1, '____'],
      [T + 1, '----'],
      [T + 1000, 'AAAA'],
    ] as const) {
      tick = nextTick(tick, at);
      ids.push(archiveId(tick, nonce));
    }
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('keep increasing when the clock stands still or steps back', () => {
    const first = nextTick(undefined, T);
    const same = nextTick(first, T);
    const back = nextTick(same, T - 5000);
    expect([first, same, back]).toEqual([
      { ms: T, n: 0 },
      { ms: T, n: 1 },
      { ms: T, n: 2 },
    ]);
    expect(archiveId(back, 'a') > archiveId(same, 'z')).toBe(true);
  });

  it('move to the next millisecond when one millisecond runs out of counter values', () => {
    expect(nextTick({ ms: T, n: 36 ** 3 - 1 }, T)).toEqual({ ms: T + 1, n: 0 });
  });

  it('start with the time key of their millisecond: ids of a millisecond sit between its key and the next', () => {
    const id = archiveId(nextTick(undefined, T), 'nonce');
    expect(id.startsWith(timeKey(T))).toBe(true);
    expect(id >= timeKey(T)).toBe(true);
    expect(id < timeKey(T + 1)).toBe(true);
    expect(id > timeKey(T - 1)).toBe(true);
  });

  it('have fixed-width time keys, clamped to what the width holds', () => {
    expect(timeKey(0)).toBe('000000000');
    expect(timeKey(-5)).toBe('000000000');
    expect(timeKey(T)).toHaveLength(9);
    expect(timeKey(Number.MAX_SAFE_INTEGER)).toBe('zzzzzzzzz');
  });
});

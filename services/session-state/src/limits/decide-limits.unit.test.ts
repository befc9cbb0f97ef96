import { describe, expect, it } from 'vitest';

import { decideEvictions, decidePrunes } from './decide-limits.js';

const at = (s: number): Date => new Date(Date.parse('2026-01-01T00:00:00Z') + s * 1000);

describe('decideEvictions (spec §5 max_hibernated_sessions)', () => {
  const sessions = [
    { session: 'r3', version: 1, hibernatedAt: at(3) },
    { session: 'r1', version: 2, hibernatedAt: at(1) },
    { session: 'r2', version: 1, hibernatedAt: at(2) },
  ];

  it('evicts the longest-hibernating beyond the limit', () => {
    expect(decideEvictions(sessions, 2).map((victim) => victim.session)).toEqual(['r1']);
    expect(decideEvictions(sessions, 1).map((victim) => victim.session)).toEqual(['r1', 'r2']);
  });

  it('evicts nothing within the limit; a limit below 1 counts as 1', () => {
    expect(decideEvictions(sessions, 3)).toEqual([]);
    expect(decideEvictions(sessions, 0)).toHaveLength(2);
  });

  it('breaks ties by session id, so every instance picks the same victim', () => {
    const tied = [
      { session: 'b', version: 1, hibernatedAt: at(1) },
      { session: 'a', version: 1, hibernatedAt: at(1) },
    ];
    expect(decideEvictions(tied, 1).map((victim) => victim.session)).toEqual(['a']);
  });
});

describe('decidePrunes (spec §5 max_old_sessions)', () => {
  const records = [
    { session: 's1', terminatedAt: at(1) },
    { session: 's3', terminatedAt: at(3) },
    { session: 's2', terminatedAt: at(2) },
  ];

  it('keeps the newest max records', () => {
    expect(decidePrunes(records, 2).map((record) => record.session)).toEqual(['s1']);
  });

  it('max 0 keeps none', () => {
    expect(
      decidePrunes(records, 0)
        .map((record) => record.session)
        .sort(),
    ).toEqual(['s1', 's2', 's3']);
  });

  it('prunes nothing within the limit', () => {
    expect(decidePrunes(records, 3)).toEqual([]);
  });
});

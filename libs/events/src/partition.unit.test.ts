import { describe, expect, it } from 'vitest';

import { SESSION_PARTITIONS, partitionOf } from './partition.js';

describe('partitionOf', () => {
  it('is stable (a changed hash would re-partition every live session)', () => {
    expect(['a', 'session-1', 'qL3v9x_Rk2'].map((key) => partitionOf(key))).toEqual([12, 13, 4]);
  });

  it('stays in range and spreads keys over all partitions', () => {
    const counts = new Array<number>(SESSION_PARTITIONS).fill(0);
    for (let i = 0; i < 16_000; i++) {
      const p = partitionOf(`session-${i}`);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(SESSION_PARTITIONS);
      counts[p] = (counts[p] ?? 0) + 1;
    }
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });
});

import { describe, expect, it } from 'vitest';

import {
  deadlineOffsets,
  latenessByPartition,
  latenessFigures,
  latenessTimeline,
  meetsTarget,
} from './expiry-figures.js';

const NaN_ = Number.NaN;

describe('deadlineOffsets', () => {
  it('spreads deadlines evenly, each in the middle of its slot', () => {
    expect([...deadlineOffsets(4, 1000)]).toEqual([125, 375, 625, 875]);
  });

  it('is ascending and stays inside the spread', () => {
    const offsets = deadlineOffsets(100_000, 180_000);
    expect(offsets[0]).toBe(0);
    expect(offsets[99_999]).toBe(179_999);
    expect(offsets.every((value, i) => i === 0 || value >= (offsets[i - 1] ?? 0))).toBe(true);
  });
});

describe('latenessFigures', () => {
  const deadlines = Float64Array.from([1000, 2000, 3000, 4000, 5000]);

  it('summarises lateness, counts early and missing, and buckets it', () => {
    const ended = Float64Array.from([1010, 2400, 2990, NaN_, 11_000]);
    const figures = latenessFigures(deadlines, ended);
    expect(figures.measured).toBe(5);
    expect(figures.early).toBe(1);
    expect(figures.missing).toBe(1);
    expect(figures.lateMs).toMatchObject({ count: 4, p50: 10, max: 6000 });
    expect(figures.histogram).toMatchObject({ early: 1, '≤50': 1, '≤500': 1, '>5000': 1, '≤0': 0 });
    expect(meetsTarget(figures)).toBe(false);
  });

  it('leaves out excluded sessions entirely', () => {
    const ended = Float64Array.from([1000, 2500, 3100, 4200, NaN_]);
    const excluded = Uint8Array.from([0, 0, 0, 0, 1]);
    const figures = latenessFigures(deadlines, ended, excluded);
    expect(figures).toMatchObject({ measured: 4, missing: 0, early: 0 });
    expect(figures.lateMs?.max).toBe(500);
    expect(figures.histogram['≤0']).toBe(1);
    expect(meetsTarget(figures)).toBe(true);
  });

  it('does not meet the target with nothing measured or a p99 over 1 s', () => {
    expect(meetsTarget(latenessFigures(new Float64Array(0), new Float64Array(0)))).toBe(false);
    expect(meetsTarget(latenessFigures(Float64Array.from([0]), Float64Array.from([1001])))).toBe(false);
  });
});

describe('latenessTimeline', () => {
  it('groups sessions by deadline and reports each bucket’s lateness', () => {
    const deadlines = Float64Array.from([100, 200, 10_100, 10_200]);
    const ended = Float64Array.from([150, 1200, 10_100, NaN_]);
    expect(latenessTimeline(deadlines, ended, 0, 10_000)).toEqual([
      { fromS: 0, due: 2, ended: 2, p99LateMs: 1000, maxLateMs: 1000 },
      { fromS: 10, due: 2, ended: 1, p99LateMs: 0, maxLateMs: 0 },
    ]);
  });
});

describe('latenessByPartition', () => {
  it('reports each partition with its owner, how many ended and how late', () => {
    const deadlines = Float64Array.from([0, 0, 0, 0]);
    const ended = Float64Array.from([10, 30, NaN_, 5000]);
    const partitions = Uint8Array.from([3, 3, 1, 1]);
    expect(latenessByPartition(deadlines, ended, partitions, new Map([[3, 'timeout-1']]))).toEqual([
      { partition: 1, owner: null, due: 2, ended: 1, p50LateMs: 5000, maxLateMs: 5000 },
      { partition: 3, owner: 'timeout-1', due: 2, ended: 2, p50LateMs: 10, maxLateMs: 30 },
    ]);
  });
});

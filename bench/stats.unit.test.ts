import { describe, expect, it } from 'vitest';

import { median, percentile, ratio, Reservoir, round, summarize } from './stats.js';

describe('percentile', () => {
  it('uses the nearest rank', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(sorted, 50)).toBe(5);
    expect(percentile(sorted, 90)).toBe(9);
    expect(percentile(sorted, 99)).toBe(10);
    expect(percentile(sorted, 100)).toBe(10);
    expect(percentile(sorted, 1)).toBe(1);
  });

  it('is NaN for no values', () => {
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('summarize', () => {
  it('sorts numerically and reports count, percentiles, max and mean', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(summarize(values)).toEqual({ count: 100, p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 });
  });

  it('handles one value and values that sort wrongly as strings', () => {
    expect(summarize([7])).toMatchObject({ count: 1, p50: 7, p99: 7, max: 7 });
    expect(summarize([10, 9, 100])).toMatchObject({ p50: 10, max: 100 });
  });

  it('is null for no values', () => {
    expect(summarize([])).toBeNull();
  });
});

describe('median', () => {
  it('takes the middle value or the mean of the two middle values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('ratio', () => {
  it('divides, or is null when a side is missing or zero', () => {
    expect(ratio(10, 4)).toBe(2.5);
    expect(ratio(null, 4)).toBeNull();
    expect(ratio(3, undefined)).toBeNull();
    expect(ratio(3, 0)).toBeNull();
    expect(ratio(Number.NaN, 2)).toBeNull();
  });
});

describe('round', () => {
  it('rounds to the given decimals and keeps null', () => {
    expect(round(1.23456, 2)).toBe(1.23);
    expect(round(1.5, 0)).toBe(2);
    expect(round(null)).toBeNull();
    expect(round(Number.POSITIVE_INFINITY)).toBeNull();
  });
});

describe('Reservoir', () => {
  it('keeps everything up to its capacity', () => {
    const reservoir = new Reservoir(5);
    for (const value of [1, 2, 3]) reservoir.add(value);
    expect(reservoir.values()).toEqual([1, 2, 3]);
    expect(reservoir.total).toBe(3);
  });

  it('never holds more than its capacity and counts every value', () => {
    let seed = 1;
    const random = (): number => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const reservoir = new Reservoir(100, random);
    for (let i = 0; i < 10_000; i += 1) reservoir.add(i);
    expect(reservoir.values()).toHaveLength(100);
    expect(reservoir.total).toBe(10_000);
    const mean = reservoir.values().reduce((a, b) => a + b, 0) / 100;
    expect(mean).toBeGreaterThan(3000);
    expect(mean).toBeLessThan(7000);
  });
});

import { describe, expect, it } from 'vitest';

import { WorkLimit } from './work-limit.js';

describe('WorkLimit', () => {
  it('runs at most `size` at once, the rest in arrival order, and frees slots on failure too', async () => {
    const limit = new WorkLimit(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const task = (n: number) => async () => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      order.push(n);
      running -= 1;
      if (n === 1) throw new Error('fails');
      return n;
    };
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => limit.run(task(n))));
    expect(most).toBe(2);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(results.map((result) => result.status)).toEqual([
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect(await limit.run(() => Promise.resolve('free'))).toBe('free');
  });
});

import { describe, expect, it } from 'vitest';

import { ExistenceCache } from './existence-cache.js';

const cache = (): ExistenceCache =>
  new ExistenceCache({ positiveTtlMs: 1000, negativeTtlMs: 100, maxEntries: 2 });

describe('account existence cache', () => {
  it('answers within the TTL of the answer, longer for accounts that exist', () => {
    const c = cache();
    c.set('a@x', true, 0);
    c.set('b@x', false, 0);
    expect(c.get('a@x', 999)).toBe(true);
    expect(c.get('b@x', 99)).toBe(false);
    expect(c.get('b@x', 100)).toBeUndefined();
    expect(c.get('a@x', 1000)).toBeUndefined();
    expect(c.get('c@x', 0)).toBeUndefined();
  });

  it('evicts the oldest entry beyond its size and forgets on request', () => {
    const c = cache();
    c.set('a@x', true, 0);
    c.set('b@x', true, 0);
    c.set('c@x', true, 0);
    expect(c.get('a@x', 1)).toBeUndefined();
    expect(c.get('b@x', 1)).toBe(true);
    c.forget('b@x');
    expect(c.get('b@x', 1)).toBeUndefined();
    expect(c.get('c@x', 1)).toBe(true);
  });
});

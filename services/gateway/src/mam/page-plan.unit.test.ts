import { describe, expect, it } from 'vitest';

import { timeKey } from './archive-id.js';
import { pageOf, planPage, type PagePlan } from './page-plan.js';
import type { MamQuery } from './query.js';

const EMPTY: MamQuery = {
  queryId: undefined,
  with: undefined,
  startMs: undefined,
  endMs: undefined,
  afterId: undefined,
  beforeId: undefined,
  ids: undefined,
  max: undefined,
  after: undefined,
  before: undefined,
  flip: false,
};

const plan = (query: Partial<MamQuery>, cap = 100): PagePlan => planPage({ ...EMPTY, ...query }, cap);

const T = Date.parse('2026-03-01T12:00:00Z');

describe('planPage', () => {
  it('pages forward from the start of the archive, a full page by default', () => {
    expect(plan({})).toEqual({
      with: undefined,
      lower: undefined,
      upper: undefined,
      ids: undefined,
      direction: 'forward',
      size: 100,
      named: [],
      flip: false,
    });
  });

  it("clamps the client's max to the cap; max 0 asks for the count only", () => {
    expect(plan({ max: 10 }).size).toBe(10);
    expect(plan({ max: 5000 }).size).toBe(100);
    expect(plan({ max: 0 }).size).toBe(0);
  });

  it('turns start and end into an inclusive time range of ids', () => {
    const { lower, upper } = plan({ startMs: T, endMs: T + 999 });
    expect(lower).toEqual({ id: timeKey(T), inclusive: true });
    expect(upper).toEqual({ id: timeKey(T + 1000), inclusive: false });
  });

  it('pages backward from before, or from the end for an empty <before/>', () => {
    expect(plan({ before: '' })).toMatchObject({ direction: 'backward', upper: undefined, named: [] });
    expect(plan({ before: 'b9' })).toMatchObject({
      direction: 'backward',
      upper: { id: 'b9', inclusive: false },
      named: ['b9'],
    });
  });

  it('keeps the tightest of several bounds, exclusive over inclusive at the same id', () => {
    const bounded = plan({ startMs: T, afterId: `${timeKey(T + 5)}000-x`, after: `${timeKey(T + 2)}000-x` });
    expect(bounded.lower).toEqual({ id: `${timeKey(T + 5)}000-x`, inclusive: false });
    const sameId = plan({ afterId: 'k', after: 'k' });
    expect(sameId.lower).toEqual({ id: 'k', inclusive: false });
    const upper = plan({ endMs: T, beforeId: `${timeKey(T + 9)}000-x`, before: `${timeKey(T - 1)}000-x` });
    expect(upper.upper).toEqual({ id: `${timeKey(T - 1)}000-x`, inclusive: false });
  });

  it('names every id the query relies on once, so unknown ones are item-not-found', () => {
    expect(plan({ after: 'a', afterId: 'a', beforeId: 'b', ids: ['c', 'b'] }).named).toEqual(['a', 'b', 'c']);
  });
});

describe('pageOf', () => {
  const items = (...ids: string[]): { id: string }[] => ids.map((id) => ({ id }));

  it('forward: the first size items; complete when nothing came beyond them', () => {
    const forward = plan({ max: 2 });
    expect(pageOf(forward, items('a', 'b', 'c'))).toEqual({
      items: items('a', 'b'),
      first: 'a',
      last: 'b',
      complete: false,
    });
    expect(pageOf(forward, items('a', 'b'))).toMatchObject({ complete: true, last: 'b' });
  });

  it('backward: read newest first, sent oldest first', () => {
    const backward = plan({ max: 2, before: '' });
    expect(pageOf(backward, items('e', 'd', 'c'))).toEqual({
      items: items('d', 'e'),
      first: 'd',
      last: 'e',
      complete: false,
    });
    expect(pageOf(backward, items('b', 'a')).complete).toBe(true);
  });

  it('flipped: the same page sent newest first', () => {
    expect(pageOf(plan({ max: 3, flip: true }), items('a', 'b', 'c'))).toEqual({
      items: items('c', 'b', 'a'),
      first: 'a',
      last: 'c',
      complete: true,
    });
  });

  it('an empty page has no first or last and is complete', () => {
    expect(pageOf(plan({}), [])).toEqual({ items: [], first: undefined, last: undefined, complete: true });
  });
});

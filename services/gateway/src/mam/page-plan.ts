import { timeKey } from './archive-id.js';
import type { MamQuery } from './query.js';

/** One end of the id range a query selects. */
export interface Bound {
  readonly id: string;
  readonly inclusive: boolean;
}

/**
 * What to read for one query page. Archive ids sort in archive order (`archive-id.ts`), so every
 * restriction but `with` and `ids` is one bound of a single id range: `start` and RSM/form `after`
 * below, `end` and `before` above.
 */
export interface PagePlan {
  readonly with: MamQuery['with'];
  readonly lower: Bound | undefined;
  readonly upper: Bound | undefined;
  readonly ids: readonly string[] | undefined;
  /**
   * `backward` for RSM `<before/>` (XEP-0059 §2.5): the page is the last `size` items below the upper
   * bound, read newest first. `forward` otherwise: the first `size` items above the lower bound.
   */
  readonly direction: 'forward' | 'backward';
  /** Items in the page: the client's `<max/>` within the server's cap; 0 = the count only (XEP-0059 §2.6). */
  readonly size: number;
  /** Ids the query names: each must be in the archive, else `item-not-found` (XEP-0313 §4.1.3, §4.3.2). */
  readonly named: readonly string[];
  readonly flip: boolean;
}

export function planPage(query: MamQuery, maxPageSize: number): PagePlan {
  const lowers: Bound[] = [];
  const uppers: Bound[] = [];
  if (query.startMs !== undefined) lowers.push({ id: timeKey(query.startMs), inclusive: true });
  if (query.endMs !== undefined) uppers.push({ id: timeKey(query.endMs + 1), inclusive: false });
  if (query.afterId !== undefined) lowers.push({ id: query.afterId, inclusive: false });
  if (query.beforeId !== undefined) uppers.push({ id: query.beforeId, inclusive: false });
  // XEP-0313 §4.3.2: RSM after and before together are undefined by RSM; here both simply bound the range.
  if (query.after !== undefined) lowers.push({ id: query.after, inclusive: false });
  if (query.before !== undefined && query.before !== '') uppers.push({ id: query.before, inclusive: false });
  const named = [query.after, query.before, query.afterId, query.beforeId, ...(query.ids ?? [])].filter(
    (id): id is string => id !== undefined && id !== '',
  );
  return {
    with: query.with,
    lower: lowers.reduce<Bound | undefined>((tightest, bound) => tighter(tightest, bound, 1), undefined),
    upper: uppers.reduce<Bound | undefined>((tightest, bound) => tighter(tightest, bound, -1), undefined),
    ids: query.ids,
    direction: query.before === undefined ? 'forward' : 'backward',
    size: Math.min(query.max ?? maxPageSize, maxPageSize),
    named: [...new Set(named)],
    flip: query.flip,
  };
}

/** The narrower of two bounds: the higher lower bound (`sign` 1) or the lower upper bound (-1). */
function tighter(current: Bound | undefined, next: Bound, sign: 1 | -1): Bound {
  if (current === undefined) return next;
  if (current.id === next.id) return current.inclusive ? next : current;
  return (next.id > current.id ? 1 : -1) === sign ? next : current;
}

/** One page as the client sees it. */
export interface Page<T extends { readonly id: string }> {
  /** In the order they are sent: chronological, newest first when flipped (XEP-0313 §4.3.4). */
  readonly items: readonly T[];
  /** The oldest and newest id of the page (XEP-0059 `<first/>`, `<last/>`); none for an empty page. */
  readonly first: string | undefined;
  readonly last: string | undefined;
  /**
   * XEP-0313 §4.3.2: nothing matches beyond this page in its direction (after it paging forward,
   * before it paging backward).
   */
  readonly complete: boolean;
}

/**
 * The page from what the archive returned for `plan`: up to `size + 1` items in the plan's direction
 * (ascending forward, descending backward); the one beyond `size` only tells that more match.
 */
export function pageOf<T extends { readonly id: string }>(plan: PagePlan, fetched: readonly T[]): Page<T> {
  const taken = fetched.slice(0, plan.size);
  const chronological = plan.direction === 'backward' ? [...taken].reverse() : taken;
  return {
    items: plan.flip ? [...chronological].reverse() : chronological,
    first: chronological[0]?.id,
    last: chronological.at(-1)?.id,
    complete: fetched.length <= plan.size,
  };
}

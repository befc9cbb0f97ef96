/**
 * Archive ids (XEP-0313 RSM uids, XEP-0359 stanza-ids): `<time><counter>-<nonce>`. The time-ordered
 * prefix makes the archive's order the ids' string order, so a page, an `after`/`before` cursor and a
 * `start`/`end` bound are all ranges of one indexed field; the nonce keeps ids unique across gateways
 * and unpredictable (XEP-0359 §4, rule 2). Pure: the clock reading and the nonce come from the caller.
 */

/** A point in archive order: milliseconds since the epoch and a counter within that millisecond. */
export interface ArchiveTick {
  readonly ms: number;
  readonly n: number;
}

/** Base-36 digits of the millisecond: 36^9 ms reach the year 5138. */
const TIME_WIDTH = 9;
/** Base-36 digits of the counter: 46656 ids per millisecond and process. */
const COUNTER_WIDTH = 3;
const MAX_MS = 36 ** TIME_WIDTH - 1;
const MAX_N = 36 ** COUNTER_WIDTH - 1;

/**
 * The tick after `previous` at wall-clock `nowMs`: always later than `previous`, so one process hands out
 * ids in the order it archives, even when the clock stands still or steps back.
 */
export function nextTick(previous: ArchiveTick | undefined, nowMs: number): ArchiveTick {
  const ms = clampMs(Math.floor(nowMs));
  if (previous === undefined || ms > previous.ms) return { ms, n: 0 };
  if (previous.n < MAX_N) return { ms: previous.ms, n: previous.n + 1 };
  return { ms: previous.ms + 1, n: 0 };
}

/** The id archived at `tick`; `nonce` is URL-safe random text. */
export function archiveId(tick: ArchiveTick, nonce: string): string {
  return `${timeKey(tick.ms)}${tick.n.toString(36).padStart(COUNTER_WIDTH, '0')}-${nonce}`;
}

/**
 * The prefix of every id archived in millisecond `ms`: ids of that millisecond and later sort at or above
 * it, earlier ones below. Milliseconds outside the representable range are clamped to it.
 */
export function timeKey(ms: number): string {
  return clampMs(ms).toString(36).padStart(TIME_WIDTH, '0');
}

function clampMs(ms: number): number {
  return Math.min(MAX_MS, Math.max(0, ms));
}

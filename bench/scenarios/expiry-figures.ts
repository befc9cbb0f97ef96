import { summarize, type LatencySummary } from '../stats.js';

/** Pure figures of the expiry scenario: deadline layout, lateness, histogram, timeline. */

/** The target: p99 at most this late (ms), and none early. */
export const TARGET_P99_LATE_MS = 1000;

/**
 * Deadline offsets (ms after the window start) of `count` sessions spread evenly over `spreadMs`, in
 * ascending order: session i is due at the middle of its slot, so the rate is constant over the window.
 */
export function deadlineOffsets(count: number, spreadMs: number): Float64Array {
  const offsets = new Float64Array(count);
  for (let i = 0; i < count; i++) offsets[i] = Math.floor(((i + 0.5) * spreadMs) / count);
  return offsets;
}

/** Upper bounds (ms late, inclusive) of the lateness histogram; anything later falls in `>5000`. */
const BUCKETS = [0, 50, 100, 250, 500, 1000, 2000, 5000] as const;

export interface LatenessFigures {
  /** Sessions measured: those whose hibernation was stored before their deadline. */
  readonly measured: number;
  /** ms from deadline to termination (negative = early), over the measured sessions that ended. */
  readonly lateMs: LatencySummary | null;
  /** Terminated before the deadline: must be 0. */
  readonly early: number;
  /** Measured sessions with no termination seen by the end. */
  readonly missing: number;
  /** Counts per bucket: `early`, `≤0`… `≤5000`, `>5000` (ms late). */
  readonly histogram: Readonly<Record<string, number>>;
}

/**
 * Lateness of every measured session: `endedAt[i] - deadlines[i]` (epoch ms; NaN in `endedAt` = not
 * terminated). Sessions flagged in `excluded` (their deadline passed before the bench stored their
 * hibernation, so a late end would not be the service's) are left out of every figure.
 */
export function latenessFigures(
  deadlines: Float64Array,
  endedAt: Float64Array,
  excluded?: Uint8Array,
): LatenessFigures {
  const late: number[] = [];
  let early = 0;
  let missing = 0;
  let measured = 0;
  const histogram: Record<string, number> = { early: 0 };
  for (const bound of BUCKETS) histogram[`≤${bound}`] = 0;
  histogram['>5000'] = 0;
  for (let i = 0; i < deadlines.length; i++) {
    if (excluded?.[i] === 1) continue;
    measured += 1;
    const ended = endedAt[i] ?? Number.NaN;
    if (Number.isNaN(ended)) {
      missing += 1;
      continue;
    }
    const ms = ended - (deadlines[i] ?? Number.NaN);
    late.push(ms);
    if (ms < 0) {
      early += 1;
      histogram.early = (histogram.early ?? 0) + 1;
      continue;
    }
    const bound = BUCKETS.find((b) => ms <= b);
    const key = bound === undefined ? '>5000' : `≤${bound}`;
    histogram[key] = (histogram[key] ?? 0) + 1;
  }
  return { measured, lateMs: summarize(late), early, missing, histogram };
}

export interface TimelineBucket {
  /** Seconds after the window start at which the bucket begins. */
  readonly fromS: number;
  /** Deadlines falling in the bucket, and how many of those sessions ended (at any time). */
  readonly due: number;
  readonly ended: number;
  /** Lateness of the bucket's ended sessions (ms). */
  readonly p99LateMs: number | null;
  readonly maxLateMs: number | null;
}

/** Lateness by deadline, in buckets of `bucketMs` from `windowStart`: shows when the service fell behind. */
export function latenessTimeline(
  deadlines: Float64Array,
  endedAt: Float64Array,
  windowStart: number,
  bucketMs: number,
  excluded?: Uint8Array,
): TimelineBucket[] {
  const buckets = new Map<number, { due: number; late: number[] }>();
  for (let i = 0; i < deadlines.length; i++) {
    if (excluded?.[i] === 1) continue;
    const deadline = deadlines[i] ?? Number.NaN;
    const index = Math.max(0, Math.floor((deadline - windowStart) / bucketMs));
    let bucket = buckets.get(index);
    if (bucket === undefined) {
      bucket = { due: 0, late: [] };
      buckets.set(index, bucket);
    }
    bucket.due += 1;
    const ended = endedAt[i] ?? Number.NaN;
    if (!Number.isNaN(ended)) bucket.late.push(ended - deadline);
  }
  return [...buckets]
    .sort(([a], [b]) => a - b)
    .map(([index, { due, late }]) => {
      const summary = summarize(late);
      return {
        fromS: (index * bucketMs) / 1000,
        due,
        ended: late.length,
        p99LateMs: summary === null ? null : summary.p99,
        maxLateMs: summary === null ? null : summary.max,
      };
    });
}

/** True when the figures meet the target: every measured session ended, none early, p99 ≤ 1 s late. */
export function meetsTarget(figures: LatenessFigures): boolean {
  return (
    figures.measured > 0 &&
    figures.missing === 0 &&
    figures.early === 0 &&
    figures.lateMs !== null &&
    figures.lateMs.p99 <= TARGET_P99_LATE_MS
  );
}

export interface PartitionFigures {
  readonly partition: number;
  /** The timeout process holding the partition's lease when the window started. */
  readonly owner: string | null;
  readonly due: number;
  readonly ended: number;
  readonly p50LateMs: number | null;
  readonly maxLateMs: number | null;
}

/** Lateness per session partition (`partitions[i]` is session i's): shows a partition left behind. */
export function latenessByPartition(
  deadlines: Float64Array,
  endedAt: Float64Array,
  partitions: Uint8Array,
  owners: ReadonlyMap<number, string>,
  excluded?: Uint8Array,
): PartitionFigures[] {
  const groups = new Map<number, { due: number; late: number[] }>();
  for (let i = 0; i < deadlines.length; i++) {
    if (excluded?.[i] === 1) continue;
    const partition = partitions[i] ?? 0;
    let group = groups.get(partition);
    if (group === undefined) {
      group = { due: 0, late: [] };
      groups.set(partition, group);
    }
    group.due += 1;
    const ended = endedAt[i] ?? Number.NaN;
    if (!Number.isNaN(ended)) group.late.push(ended - (deadlines[i] ?? Number.NaN));
  }
  return [...groups]
    .sort(([a], [b]) => a - b)
    .map(([partition, { due, late }]) => {
      const summary = summarize(late);
      return {
        partition,
        owner: owners.get(partition) ?? null,
        due,
        ended: late.length,
        p50LateMs: summary === null ? null : summary.p50,
        maxLateMs: summary === null ? null : summary.max,
      };
    });
}

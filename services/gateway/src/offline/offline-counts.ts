import { LazyBucket, isWrongLastSequence, type Bus } from '@holdfast/bus';
import { encodeToken } from '@holdfast/events';

export const DEFAULT_OFFLINE_COUNTS_BUCKET = 'HF_OFFLINE_COUNTS';

const MAX_ATTEMPTS = 20;

export interface OfflineCountsOptions {
  readonly bucket?: string;
  readonly replicas?: number;
}

/**
 * How many offline messages each user holds (XEP-0160 capacity), one JetStream KV entry per database and
 * user, changed by compare-and-set. Why not count the user's documents: FerretDB serves no filter but
 * `_id` from an index (docs/ferretdb-compatibility.md), so each `owner` count read the whole offline
 * collection; in a profile of the 100,000-session expiry bench without session-state, that was 88% of
 * FerretDB's CPU. The count is a reservation made before the insert: a crash in between leaves it too
 * high until `reconcile`, which the delivery of the user's messages (a full read) calls.
 */
export class OfflineCounts {
  private readonly bucket: LazyBucket;

  constructor(
    bus: Bus,
    /** The database whose messages are counted: deployments (and tests) sharing a NATS stay apart. */
    private readonly database: string,
    options: OfflineCountsOptions = {},
  ) {
    this.bucket = new LazyBucket(bus, options.bucket ?? DEFAULT_OFFLINE_COUNTS_BUCKET, {
      description: 'Holdfast: offline messages held per user (XEP-0160 capacity)',
      history: 1,
      replicas: options.replicas ?? 1,
    });
  }

  /** Takes up to `wanted` places below `capacity`; returns how many it took. */
  async reserve(owner: string, wanted: number, capacity: number): Promise<number> {
    let taken = 0;
    await this.change(owner, (held) => {
      taken = Math.max(0, Math.min(wanted, capacity - held));
      return held + taken;
    });
    return taken;
  }

  /** Gives places back: messages removed, or reserved and not stored. */
  async release(owner: string, count: number): Promise<void> {
    if (count <= 0) return;
    await this.change(owner, (held) => Math.max(0, held - count));
  }

  /** Sets the count to `held`, read from the user's messages themselves. */
  async reconcile(owner: string, held: number): Promise<void> {
    await this.change(owner, () => held);
  }

  private async change(owner: string, next: (held: number) => number): Promise<void> {
    const key = `${encodeToken(this.database)}.${encodeToken(owner)}`;
    const kv = await this.bucket.kv();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const stored = await kv.get(key);
      const revision = stored?.revision ?? 0;
      const held = stored?.operation === 'PUT' ? heldOf(stored.string()) : 0;
      const count = next(held);
      if (count === held) return;
      try {
        if (count === 0) await kv.delete(key, { previousSeq: revision });
        else await kv.put(key, String(count), { previousSeq: revision });
        return;
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
    }
    throw new Error(
      `offline count of ${owner}: still losing the compare-and-set after ${MAX_ATTEMPTS} attempts`,
    );
  }
}

/** An unreadable count is taken as none: the next delivery of the user's messages sets it right. */
function heldOf(text: string): number {
  const held = Number(text);
  return Number.isSafeInteger(held) && held > 0 ? held : 0;
}

import { randomBytes } from 'node:crypto';

import { DuplicateKeyError, MamArchive, type MamArchiveDocument, type Store } from '@holdfast/store';

import { archiveId, nextTick, type ArchiveTick } from './archive-id.js';
import type { PagePlan } from './page-plan.js';

/** One message for one archive. */
export interface ArchiveEntry {
  /** The archive's user (a bare JID). */
  readonly owner: string;
  /** The routed client stanza (`<stream id>.<seq>`): with `owner`, the entry's identity. */
  readonly origin: string;
  /** The other party: its bare JID, and its JID as the message named it. */
  readonly with: string;
  readonly withFull: string;
  /** The message as routed (XML). */
  readonly stanza: string;
}

/** An entry as a query reads it. */
export interface StoredEntry {
  readonly id: string;
  readonly at: Date;
  readonly stanza: string;
}

const READ = { projection: { _id: 0, id: 1, at: 1, stanza: 1 } } as const;

/**
 * The user archives (XEP-0313) in the `mam_archive` collection: one insert per archived copy, queries as
 * ranges of the `{owner, id}` and `{owner, with, id}` indexes. Single-document writes and plain
 * find/sort/limit/count only, as FerretDB 1.24 and MongoDB both run them.
 */
export class MessageArchive {
  private tick: ArchiveTick | undefined;

  constructor(
    private readonly store: Store,
    private readonly now: () => Date,
  ) {}

  /**
   * Stores `entry` once per (owner, origin) and returns its archive id. The key is derived from both, so
   * an entry archived before (a retried write whose first reply was lost, the same stanza routed again)
   * is not stored twice, and keeps the id it was first given.
   */
  async add(entry: ArchiveEntry): Promise<string> {
    this.tick = nextTick(this.tick, this.now().getTime());
    const document: MamArchiveDocument = {
      _id: `${entry.origin}>${entry.owner}`,
      owner: entry.owner,
      id: archiveId(this.tick, randomBytes(8).toString('base64url')),
      with: entry.with,
      withFull: entry.withFull,
      at: new Date(this.tick.ms),
      stanza: entry.stanza,
    };
    try {
      await this.store.run(MamArchive, 'insertOne', (c) => c.insertOne(document));
      return document.id;
    } catch (error) {
      if (!(error instanceof DuplicateKeyError)) throw error;
    }
    const stored = await this.store.run(MamArchive, 'findOne', (c) =>
      c.findOne({ _id: document._id }, { projection: { id: 1 } }),
    );
    // Not there: the duplicate was the id itself, which a random nonce makes next to impossible.
    if (stored === null) throw new DuplicateKeyError(MamArchive.name, 'owner_id');
    return stored.id;
  }

  /** Whether `owner`'s archive holds every id in `ids`. */
  async holdsAll(owner: string, ids: readonly string[]): Promise<boolean> {
    if (ids.length === 0) return true;
    const held = await this.store.run(MamArchive, 'countDocuments', (c) =>
      c.countDocuments({ owner, id: { $in: [...ids] } }),
    );
    return held === ids.length;
  }

  /** Up to `plan.size + 1` entries in the plan's direction: one more than the page tells that more match. */
  async page(owner: string, plan: PagePlan): Promise<StoredEntry[]> {
    return this.store.run(MamArchive, 'find', (c) =>
      c
        .find(filterOf(owner, plan), READ)
        .sort({ id: plan.direction === 'forward' ? 1 : -1 })
        .limit(plan.size + 1)
        .toArray(),
    );
  }

  /** How many entries match the plan's filters (its page size aside). */
  async count(owner: string, plan: PagePlan): Promise<number> {
    return this.store.run(MamArchive, 'countDocuments', (c) => c.countDocuments(filterOf(owner, plan)));
  }

  /** The oldest and the newest entry of `owner`'s archive (none when it is empty). */
  async ends(owner: string): Promise<{ first?: StoredEntry; last?: StoredEntry }> {
    const end = async (order: 1 | -1): Promise<StoredEntry | undefined> =>
      (
        await this.store.run(MamArchive, 'find', (c) =>
          c.find({ owner }, READ).sort({ id: order }).limit(1).toArray(),
        )
      )[0];
    const [first, last] = await Promise.all([end(1), end(-1)]);
    return { ...(first === undefined ? {} : { first }), ...(last === undefined ? {} : { last }) };
  }
}

interface IdCondition {
  $gt?: string;
  $gte?: string;
  $lt?: string;
  $lte?: string;
  $in?: string[];
}

function filterOf(
  owner: string,
  plan: PagePlan,
): { owner: string; with?: string; withFull?: string; id?: IdCondition } {
  const id: IdCondition = {};
  if (plan.lower !== undefined) id[plan.lower.inclusive ? '$gte' : '$gt'] = plan.lower.id;
  if (plan.upper !== undefined) id[plan.upper.inclusive ? '$lte' : '$lt'] = plan.upper.id;
  if (plan.ids !== undefined) id.$in = [...plan.ids];
  return {
    owner,
    ...(plan.with === undefined ? {} : { with: plan.with.bare }),
    ...(plan.with?.full === undefined ? {} : { withFull: plan.with.full }),
    ...(Object.keys(id).length === 0 ? {} : { id }),
  };
}

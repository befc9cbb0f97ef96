import { randomUUID } from 'node:crypto';

import { DuplicateKeyError, type Store } from '@holdfast/store';

import { RosterItems, type RosterDocument } from '@holdfast/store';
import { ROSTER_LINEAGE, rosterDocumentId } from './collection.js';
import { RosterUpdateConflictError } from './errors.js';
import { normalizeItem, type ItemChange, type RosterItem } from './model.js';

export interface RosterRepositoryLogger {
  debug(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface RosterRepositoryOptions {
  /** Attempts of one `update` before it gives up with `RosterUpdateConflictError` (default 8). */
  readonly maxAttempts?: number;
  readonly logger: RosterRepositoryLogger;
}

/** The version after `base` (undefined: the first), holding `item` (undefined: a removal). */
function nextDocument(
  owner: string,
  jid: string,
  base: RosterDocument | undefined,
  item: RosterItem | undefined,
): RosterDocument {
  const version = (base?.version ?? 0) + 1;
  const writer = randomUUID();
  const written = {
    _id: rosterDocumentId(owner, jid, version),
    owner,
    jid,
    version,
    writer,
    lineage: [writer, ...(base?.lineage ?? [])].slice(0, ROSTER_LINEAGE),
  };
  if (item === undefined) {
    return { ...written, removed: true, groups: [], subscription: 'none', pendingIn: false, listed: false };
  }
  const normal = normalizeItem(item);
  return {
    ...written,
    groups: [...normal.groups],
    subscription: normal.subscription,
    pendingIn: normal.pendingIn,
    listed: normal.listed,
    // Only the optional fields the item has: documents stay free of nulls.
    ...(normal.name !== undefined && { name: normal.name }),
    ...(normal.ask !== undefined && { ask: normal.ask }),
    ...(normal.pendingInStatus !== undefined && { pendingInStatus: normal.pendingInStatus }),
    ...(normal.approved === true && { approved: true }),
  };
}

function toItem(doc: RosterDocument): RosterItem | undefined {
  if (doc.removed === true) return undefined;
  return normalizeItem({
    owner: doc.owner,
    jid: doc.jid,
    name: doc.name,
    groups: doc.groups,
    subscription: doc.subscription,
    ask: doc.ask,
    pendingIn: doc.pendingIn,
    pendingInStatus: doc.pendingInStatus,
    approved: doc.approved,
    listed: doc.listed,
  });
}

/**
 * Roster items in MongoDB (`roster` collection), versioned per (owner, contact); see `RosterDocument`.
 * Several gateways may change the same item at once: `update` reads, decides and inserts the next
 * version, and on a conflict reads and decides again.
 */
export class RosterRepository {
  private readonly maxAttempts: number;
  private readonly logger: RosterRepositoryLogger;

  constructor(
    private readonly store: Store,
    options: RosterRepositoryOptions,
  ) {
    this.maxAttempts = options.maxAttempts ?? 8;
    this.logger = options.logger;
  }

  /** Everything stored for `owner`, by contact JID, unlisted records included (see `RosterItem.listed`). */
  async get(owner: string): Promise<RosterItem[]> {
    const docs = await this.store.run(RosterItems, 'get', (c) =>
      c.find({ owner }).sort({ jid: 1, version: -1 }).toArray(),
    );
    const items: RosterItem[] = [];
    let previous: string | undefined;
    for (const doc of docs) {
      // The first document of a contact is its latest version; older ones are not pruned yet.
      if (doc.jid === previous) continue;
      previous = doc.jid;
      const item = toItem(doc);
      if (item !== undefined) items.push(item);
    }
    return items;
  }

  async find(owner: string, contact: string): Promise<RosterItem | undefined> {
    const doc = await this.latest(owner, contact);
    return doc === undefined ? undefined : toItem(doc);
  }

  /** Items in `owner`'s roster (listed ones), for the roster size limit. */
  async count(owner: string): Promise<number> {
    return (await this.get(owner)).filter((item) => item.listed).length;
  }

  /** Writes `item` whatever is stored (last writer wins): for imports and administration, not for stanzas. */
  async put(item: RosterItem): Promise<void> {
    await this.update(item.owner, item.jid, () => ({ change: { kind: 'put', item } }));
  }

  /** Removes whatever is stored; false if there was nothing. */
  async remove(owner: string, contact: string): Promise<boolean> {
    const { existed } = await this.update(owner, contact, (current) => ({
      existed: current !== undefined,
      change: current === undefined ? { kind: 'unchanged' } : { kind: 'delete' },
    }));
    return existed;
  }

  /**
   * Reads the item, lets `decide` (pure: it may run several times) choose a change, and stores it only if
   * nobody else changed the item in between; otherwise reads and decides again, at most `maxAttempts`
   * times, then throws `RosterUpdateConflictError`. An error `decide` throws (e.g. a `StanzaError`) ends
   * the update without a write. Returns the decision that was stored.
   */
  async update<D extends { readonly change: ItemChange }>(
    owner: string,
    contact: string,
    decide: (current: RosterItem | undefined) => D,
  ): Promise<D> {
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const base = await this.latest(owner, contact);
      const current = base === undefined ? undefined : toItem(base);
      const decision = decide(current);
      const { change } = decision;
      if (change.kind === 'unchanged' || (change.kind === 'delete' && current === undefined)) return decision;
      if (change.kind === 'put' && (change.item.owner !== owner || change.item.jid !== contact)) {
        throw new Error(
          `decision for ${owner} / ${contact} is about ${change.item.owner} / ${change.item.jid}`,
        );
      }
      const next = nextDocument(owner, contact, base, change.kind === 'put' ? change.item : undefined);
      if ((await this.insert(next)) && (await this.current(next))) {
        await this.prune(next);
        return decision;
      }
      this.logger.debug({ owner, contact, attempt }, 'roster item changed concurrently; deciding again');
    }
    throw new RosterUpdateConflictError(owner, contact, this.maxAttempts);
  }

  private async latest(owner: string, jid: string): Promise<RosterDocument | undefined> {
    const doc = await this.store.run(RosterItems, 'latest', (c) =>
      c.findOne({ owner, jid }, { sort: { version: -1 } }),
    );
    return doc ?? undefined;
  }

  /** The compare-and-set: true when the version is ours, false when another writer inserted it first. */
  private async insert(doc: RosterDocument): Promise<boolean> {
    try {
      await this.store.run(RosterItems, 'insert', (c) => c.insertOne(doc));
      return true;
    } catch (error) {
      if (!(error instanceof DuplicateKeyError)) throw error;
      // `Store.run` retries an insert whose reply was lost; the retry then meets the insert itself.
      const found = await this.store.run(RosterItems, 'find', (c) => c.findOne({ _id: doc._id }));
      return found?.writer === doc.writer;
    }
  }

  /**
   * True when `written` is the latest version or an ancestor of it: false after an ABA (see
   * `RosterDocument`), where a later version already existed when `written` went in.
   */
  private async current(written: RosterDocument): Promise<boolean> {
    const latest = await this.latest(written.owner, written.jid);
    return latest?.lineage.includes(written.writer) === true;
  }

  /**
   * Deletes the versions before `written`. Documents never change and readers take the latest version,
   * so this cannot corrupt what anyone reads. A failure only leaves them for the next write.
   */
  private async prune(written: RosterDocument): Promise<void> {
    const { owner, jid, version } = written;
    try {
      await this.store.run(RosterItems, 'prune', (c) =>
        c.deleteMany({ owner, jid, version: { $lt: version } }),
      );
    } catch (error) {
      this.logger.warn({ err: error, owner, contact: jid, version }, 'pruning old roster versions failed');
    }
  }
}

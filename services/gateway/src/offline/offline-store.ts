import { randomUUID } from 'node:crypto';

import { DuplicateKeyError, OfflineMessages, duplicateKeyCount, type Store } from '@holdfast/store';
import { serialize, withDelay, type Element } from '@holdfast/xmpp';

import type { OfflineCounts } from './offline-counts.js';

/**
 * XEP-0160 offline storage: a message for a user with no available resource is kept, stamped with a
 * XEP-0203 delay, and delivered when the user next sends initial presence (RFC 6121 §8.5.2.2.1).
 */
export class OfflineStore {
  constructor(
    private readonly store: Store,
    /** How many messages each user holds (the capacity check; see OfflineCounts for why not a count). */
    private readonly counts: OfflineCounts,
    private readonly domain: string,
    /** Messages kept per user; 0 = storage disabled. */
    private readonly capacity: number,
  ) {}

  /**
   * 'full' (or 'disabled') means the caller answers the sender with an error instead. With an `id`, a
   * message stored under it before is not stored twice.
   */
  async put(
    owner: string,
    message: Element,
    now: Date,
    id: string = randomUUID(),
  ): Promise<'stored' | 'full' | 'disabled'> {
    const [result] = await this.putAll(owner, [{ message, id }], now);
    return result ?? 'full';
  }

  /**
   * Stores several messages for one owner, in order, under one capacity check (a terminated session's
   * queue is stored this way): as many as fit, the rest 'full'. The ids order messages stored in the same
   * millisecond (`peek`), so they must sort in the order given.
   */
  async putAll(
    owner: string,
    messages: readonly { readonly message: Element; readonly id: string }[],
    now: Date,
  ): Promise<('stored' | 'full' | 'disabled')[]> {
    if (this.capacity === 0) return messages.map(() => 'disabled');
    let stored = 0;
    // Places taken by messages found already stored (a retried batch) are given back and offered to
    // the rest; otherwise one reservation decides.
    for (let attempt = 0; attempt < messages.length && stored < messages.length; attempt++) {
      const room = await this.counts.reserve(owner, messages.length - stored, this.capacity);
      if (room === 0) break;
      const duplicates = await this.insert(owner, messages.slice(stored, stored + room), now);
      stored += room;
      if (duplicates === 0) break;
      await this.counts.release(owner, duplicates);
    }
    return messages.map((_, index) => (index < stored ? 'stored' : 'full'));
  }

  /** Inserts messages a reservation holds places for; returns how many were stored before (same id). */
  private async insert(
    owner: string,
    messages: readonly { readonly message: Element; readonly id: string }[],
    now: Date,
  ): Promise<number> {
    const documents = messages.map(({ message, id }) => ({
      _id: id,
      owner,
      stanza: serialize(withDelay(message, this.domain, now)),
      storedAt: now,
    }));
    try {
      await this.store.run(OfflineMessages, 'insertMany', (c) => c.insertMany(documents, { ordered: false }));
      return 0;
    } catch (error) {
      const duplicates = error instanceof DuplicateKeyError ? duplicateKeyCount(error) : undefined;
      if (duplicates !== undefined) return duplicates;
      // Which of them were stored is unknown: their places go back (the next full read sets it right).
      await this.counts.release(owner, documents.length);
      throw error;
    }
  }

  /** The user's stored messages, oldest first; `remove` them once they were written to a session. */
  async peek(owner: string): Promise<{ id: string; stanza: string }[]> {
    const found = await this.store.run(OfflineMessages, 'find', (c) =>
      c.find({ owner }).sort({ storedAt: 1, _id: 1 }).limit(this.capacity).toArray(),
    );
    // Every message the user holds was read (fewer than the capacity): the count is set to match.
    if (found.length < this.capacity) await this.counts.reconcile(owner, found.length);
    return found.map((doc) => ({ id: doc._id, stanza: doc.stanza }));
  }

  async remove(owner: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const { deletedCount } = await this.store.run(OfflineMessages, 'deleteMany', (c) =>
      c.deleteMany({ _id: { $in: [...ids] } }),
    );
    await this.counts.release(owner, deletedCount);
  }
}

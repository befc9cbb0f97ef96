import { randomUUID } from 'node:crypto';

import { DuplicateKeyError, OfflineMessages, type Store } from '@holdfast/store';
import { serialize, withDelay, type Element } from '@holdfast/xmpp';

/**
 * XEP-0160 offline storage: a message for a user with no available resource is kept, stamped with a
 * XEP-0203 delay, and delivered when the user next sends initial presence (RFC 6121 §8.5.2.2.1).
 */
export class OfflineStore {
  constructor(
    private readonly store: Store,
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
    if (this.capacity === 0) return 'disabled';
    const held = await this.store.run(OfflineMessages, 'count', (c) =>
      c.countDocuments({ owner }, { limit: this.capacity }),
    );
    if (held >= this.capacity) return 'full';
    const stamped = withDelay(message, this.domain, now);
    try {
      await this.store.run(OfflineMessages, 'insertOne', (c) =>
        c.insertOne({ _id: id, owner, stanza: serialize(stamped), storedAt: now }),
      );
    } catch (error) {
      if (!(error instanceof DuplicateKeyError)) throw error;
    }
    return 'stored';
  }

  /** The user's stored messages, oldest first; `remove` them once they were written to a session. */
  async peek(owner: string): Promise<{ id: string; stanza: string }[]> {
    const found = await this.store.run(OfflineMessages, 'find', (c) =>
      c.find({ owner }).sort({ storedAt: 1, _id: 1 }).limit(this.capacity).toArray(),
    );
    return found.map((doc) => ({ id: doc._id, stanza: doc.stanza }));
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.store.run(OfflineMessages, 'deleteMany', (c) => c.deleteMany({ _id: { $in: [...ids] } }));
  }
}

import { randomUUID } from 'node:crypto';

import { DuplicateKeyError, OfflineMessages, onlyDuplicateKeys, type Store } from '@holdfast/store';
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
    const [result] = await this.putAll(owner, [{ message, id }], now);
    return result ?? 'full';
  }

  /**
   * Stores several messages for one owner, in order, under one capacity check: as many as fit, the rest
   * 'full'. A terminated session's queue is stored this way: FerretDB answers the `owner` count by
   * reading the whole collection (docs/ferretdb-compatibility.md), so it is asked once, not per stanza.
   * The ids order messages stored in the same millisecond (`peek`), so they must sort in queue order.
   */
  async putAll(
    owner: string,
    messages: readonly { readonly message: Element; readonly id: string }[],
    now: Date,
  ): Promise<('stored' | 'full' | 'disabled')[]> {
    if (this.capacity === 0) return messages.map(() => 'disabled');
    if (messages.length === 0) return [];
    const held = await this.store.run(OfflineMessages, 'count', (c) =>
      c.countDocuments({ owner }, { limit: this.capacity }),
    );
    const room = Math.max(0, this.capacity - held);
    const fitting = messages.slice(0, room).map(({ message, id }) => ({
      _id: id,
      owner,
      stanza: serialize(withDelay(message, this.domain, now)),
      storedAt: now,
    }));
    if (fitting.length > 0) {
      try {
        await this.store.run(OfflineMessages, 'insertMany', (c) => c.insertMany(fitting, { ordered: false }));
      } catch (error) {
        // Stored before under the same id (a retried routing or termination): kept once.
        if (!(error instanceof DuplicateKeyError) || !onlyDuplicateKeys(error)) throw error;
      }
    }
    return messages.map((_, index) => (index < room ? 'stored' : 'full'));
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

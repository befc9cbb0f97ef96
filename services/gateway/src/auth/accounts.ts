import { randomBytes } from 'node:crypto';

import { newUserCredentials, type UserScramCredentials } from '@holdfast/sasl';
import { DuplicateKeyError, Users, type Store } from '@holdfast/store';
import { parseJid } from '@holdfast/xmpp';

/** Accounts of the served domain, with their SCRAM credentials (never a password at rest). */
export class Accounts {
  constructor(
    private readonly store: Store,
    readonly domain: string,
  ) {}

  /** Normalises a localpart (RFC 7622) into the account's bare JID; throws JidError when invalid. */
  bareJid(localpart: string): string {
    return parseJid(`${localpart}@${this.domain}`).toString();
  }

  async credentials(bareJid: string): Promise<UserScramCredentials | undefined> {
    const user = await this.store.run(Users, 'findOne', (users) => users.findOne({ _id: bareJid }));
    return user?.scram;
  }

  async exists(bareJid: string): Promise<boolean> {
    const count = await this.store.run(Users, 'count', (users) =>
      users.countDocuments({ _id: bareJid }, { limit: 1 }),
    );
    return count > 0;
  }

  /** Creates an account; false when it exists already. */
  async add(localpart: string, password: string, now: Date): Promise<boolean> {
    const jid = this.bareJid(localpart);
    const scram = await newUserCredentials(password, randomBytes);
    try {
      await this.store.run(Users, 'insertOne', (users) =>
        users.insertOne({ _id: jid, scram, createdAt: now, updatedAt: now }),
      );
      return true;
    } catch (error) {
      if (error instanceof DuplicateKeyError) return false;
      throw error;
    }
  }

  async setPassword(localpart: string, password: string, now: Date): Promise<boolean> {
    const jid = this.bareJid(localpart);
    const scram = await newUserCredentials(password, randomBytes);
    const result = await this.store.run(Users, 'updateOne', (users) =>
      users.updateOne({ _id: jid }, { $set: { scram, updatedAt: now } }),
    );
    return result.matchedCount === 1;
  }

  async remove(localpart: string): Promise<boolean> {
    const jid = this.bareJid(localpart);
    const result = await this.store.run(Users, 'deleteOne', (users) => users.deleteOne({ _id: jid }));
    return result.deletedCount === 1;
  }

  async list(): Promise<string[]> {
    const users = await this.store.run(Users, 'find', (c) =>
      c
        .find({}, { projection: { _id: 1 } })
        .sort({ _id: 1 })
        .toArray(),
    );
    return users.map((user) => user._id);
  }
}

import { randomBytes } from 'node:crypto';

import { newUserCredentials, type UserScramCredentials } from '@holdfast/sasl';
import { DuplicateKeyError, Settings, Users, type Store } from '@holdfast/store';
import { parseJid } from '@holdfast/xmpp';

import { ExistenceCache } from './existence-cache.js';

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

  /**
   * The key of the fake credentials for unknown accounts, the same on every gateway (otherwise an
   * unknown account would show a different salt per gateway, and so reveal that it does not exist).
   * Created by whichever process asks first; an insert under a unique id settles races.
   */
  async fakeCredentialSecret(): Promise<Buffer> {
    const id = 'auth.fake-credential-secret';
    const read = (): Promise<{ value: string } | null> =>
      this.store.run(Settings, 'findOne', (settings) => settings.findOne({ _id: id }));
    const existing = await read();
    if (existing !== null) return Buffer.from(existing.value, 'base64');
    try {
      const value = randomBytes(32).toString('base64');
      await this.store.run(Settings, 'insertOne', (settings) =>
        settings.insertOne({ _id: id, value, createdAt: new Date() }),
      );
      return Buffer.from(value, 'base64');
    } catch (error) {
      if (!(error instanceof DuplicateKeyError)) throw error;
      const winner = await read();
      if (winner === null) throw error;
      return Buffer.from(winner.value, 'base64');
    }
  }

  async credentials(bareJid: string): Promise<UserScramCredentials | undefined> {
    const user = await this.store.run(Users, 'findOne', (users) => users.findOne({ _id: bareJid }));
    return user?.scram;
  }

  /** Whether the account exists; cached (see ExistenceCache): routing asks for every stanza. */
  async exists(bareJid: string): Promise<boolean> {
    const now = Date.now();
    const known = this.existence.get(bareJid, now);
    if (known !== undefined) return known;
    const count = await this.store.run(Users, 'count', (users) =>
      users.countDocuments({ _id: bareJid }, { limit: 1 }),
    );
    this.existence.set(bareJid, count > 0, now);
    return count > 0;
  }

  private readonly existence = new ExistenceCache({
    positiveTtlMs: 60_000,
    negativeTtlMs: 5_000,
    maxEntries: 100_000,
  });

  /** Creates an account; false when it exists already. */
  async add(localpart: string, password: string, now: Date): Promise<boolean> {
    const jid = this.bareJid(localpart);
    const scram = await newUserCredentials(password, randomBytes);
    try {
      await this.store.run(Users, 'insertOne', (users) =>
        users.insertOne({ _id: jid, scram, createdAt: now, updatedAt: now }),
      );
      this.existence.forget(jid);
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
    this.existence.forget(jid);
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

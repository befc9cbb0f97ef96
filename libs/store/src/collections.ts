import type { UserScramCredentials } from '@holdfast/sasl';

import { defineCollection } from './collection.js';

/**
 * Every collection Holdfast keeps, with its indexes: the one place they are declared. `ensureIndexes`
 * creates them at service start. Documents are written with single-document atomic operations only
 * (FerretDB 1.x has no multi-document transactions).
 */

export interface UserDocument {
  /** The bare JID, normalised (RFC 7622). */
  readonly _id: string;
  /** RFC 5802 salted credentials: the server never stores the password, only what SCRAM needs. */
  readonly scram: UserScramCredentials;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export const Users = defineCollection<UserDocument>({ name: 'users' });

/** XEP-0160 offline storage: messages for a user with no available resource, in arrival order. */
export interface OfflineMessageDocument {
  readonly _id: string;
  /** The recipient's bare JID. */
  readonly owner: string;
  /** The message as XML, already stamped with its XEP-0203 delay. */
  readonly stanza: string;
  readonly storedAt: Date;
}

export const OfflineMessages = defineCollection<OfflineMessageDocument>({
  name: 'offline_messages',
  indexes: [{ name: 'owner_storedAt', key: { owner: 1, storedAt: 1 } }],
});

export const COLLECTIONS = [Users, OfflineMessages] as const;

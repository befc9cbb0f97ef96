import { defineCollection } from './collection.js';

/**
 * Every collection Holdfast keeps, with its indexes: the one place they are declared. `ensureIndexes`
 * creates them at service start. Documents are written with single-document atomic operations only
 * (FerretDB 1.x has no multi-document transactions).
 */

/** RFC 5802 salted credential: the server never stores the password, only what SCRAM needs. */
export interface ScramCredential {
  /** Base64. */
  readonly salt: string;
  readonly iterations: number;
  /** Base64 of H(ClientKey). */
  readonly storedKey: string;
  /** Base64 of HMAC(SaltedPassword, "Server Key"). */
  readonly serverKey: string;
}

export interface UserDocument {
  /** The bare JID, normalised (RFC 7622). */
  readonly _id: string;
  readonly scram: { readonly 'SCRAM-SHA-1': ScramCredential; readonly 'SCRAM-SHA-256': ScramCredential };
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export const Users = defineCollection<UserDocument>({ name: 'users' });

export const COLLECTIONS = [Users] as const;

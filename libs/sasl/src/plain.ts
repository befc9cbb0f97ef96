/**
 * PLAIN (RFC 4616) against the stored SCRAM credential: the password is run through the same derivation
 * as at registration and StoredKey compared, so PLAIN works without the server keeping passwords.
 */
import { timingSafeEqual } from 'node:crypto';

import { decodeCredential, deriveKeys } from './credentials.js';
import type { DecodedCredential, ScramCredential, ScramMechanism } from './credentials.js';
import { CredentialError, SaslFailure, SaslprepError } from './errors.js';
import { saslprep } from './saslprep.js';

/** A parsed PLAIN message. It holds a password in clear: never log it. */
export interface PlainMessage {
  readonly authzid: string | undefined;
  readonly authcid: string;
  readonly password: string;
}

export interface PlainAccount {
  /** The bare JID `authcid` resolved to. An authzid is accepted only if it is exactly this. */
  readonly identity: string;
  /** Which stored credential to check against; prefer SCRAM-SHA-256. */
  readonly mechanism: ScramMechanism;
  /** The user's credential, or `fakeScramCredential(…)` for an unknown user (same PBKDF2 cost). */
  readonly credential: ScramCredential;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** RFC 4616 §2: `[authzid] NUL authcid NUL passwd`, UTF-8, authcid and passwd non-empty. */
export function parsePlain(message: Uint8Array): PlainMessage {
  let text: string;
  try {
    text = utf8.decode(message);
  } catch (cause) {
    throw new SaslFailure('malformed-request', 'PLAIN message is not UTF-8', { cause });
  }
  const fields = text.split('\0');
  if (fields.length !== 3) {
    throw new SaslFailure('malformed-request', 'PLAIN message must be authzid NUL authcid NUL password');
  }
  const [authzid = '', authcid = '', password = ''] = fields;
  if (authcid === '') throw new SaslFailure('malformed-request', 'empty authentication identity');
  if (password === '') throw new SaslFailure('malformed-request', 'empty password');
  return { authzid: authzid === '' ? undefined : authzid, authcid, password };
}

/**
 * Whether `password` is the one `credential` was derived from: SASLprep, PBKDF2 with the credential's
 * salt and iteration count, then StoredKey compared in constant time. A password SASLprep refuses cannot
 * have been stored, so it is simply wrong. Throws `CredentialError` for a malformed credential.
 */
export async function verifyPassword(
  mechanism: ScramMechanism,
  password: string,
  credential: ScramCredential,
): Promise<boolean> {
  const decoded = decodeCredential(mechanism, credential);
  let prepared: string;
  try {
    prepared = saslprep(password);
  } catch (error) {
    if (error instanceof SaslprepError) return false;
    throw error;
  }
  if (prepared === '') return false;
  return storedKeyMatches(mechanism, prepared, decoded);
}

async function storedKeyMatches(
  mechanism: ScramMechanism,
  prepared: string,
  credential: DecodedCredential,
): Promise<boolean> {
  const { storedKey } = await deriveKeys(mechanism, prepared, credential.salt, credential.iterations);
  return timingSafeEqual(storedKey, credential.storedKey);
}

/**
 * Completes a PLAIN exchange: `not-authorized` for a wrong password (or a fake credential),
 * `invalid-authzid` when an authzid other than the account's own bare JID is asked for (checked after
 * the password), `temporary-auth-failure` when the stored credential is unreadable.
 */
export async function verifyPlain(
  message: PlainMessage,
  account: PlainAccount,
): Promise<{ identity: string }> {
  let ok: boolean;
  try {
    ok = await verifyPassword(account.mechanism, message.password, account.credential);
  } catch (cause) {
    if (cause instanceof CredentialError)
      throw new SaslFailure('temporary-auth-failure', undefined, { cause });
    throw cause;
  }
  if (!ok) throw new SaslFailure('not-authorized');
  if (message.authzid !== undefined && message.authzid !== account.identity) {
    throw new SaslFailure('invalid-authzid', 'the authorization identity must be your own bare JID');
  }
  return { identity: account.identity };
}

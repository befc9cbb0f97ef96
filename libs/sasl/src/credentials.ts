import { createHash, createHmac, pbkdf2 } from 'node:crypto';

import { decodeBase64 } from './base64.js';
import { CredentialError } from './errors.js';
import { saslprep } from './saslprep.js';

export type ScramMechanism = 'SCRAM-SHA-1' | 'SCRAM-SHA-256';

/** Strongest first. */
export const SCRAM_MECHANISMS: readonly ScramMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-1'];

/**
 * RFC 5802 §3 salted credential, as the user store keeps it: everything a SCRAM server needs, and not
 * enough to log in (that needs ClientKey, which only the password yields).
 */
export interface ScramCredential {
  /** Base64. */
  readonly salt: string;
  readonly iterations: number;
  /** Base64 of H(ClientKey). */
  readonly storedKey: string;
  /** Base64 of HMAC(SaltedPassword, "Server Key"). */
  readonly serverKey: string;
}

export type UserScramCredentials = { readonly [M in ScramMechanism]: ScramCredential };

/** RFC 5802 §5.1 and RFC 7677 §4: at least 4096 iterations. */
export const MIN_ITERATIONS = 4096;
export const DEFAULT_ITERATIONS: Readonly<Record<ScramMechanism, number>> = {
  'SCRAM-SHA-1': 4096,
  'SCRAM-SHA-256': 4096,
};
export const SALT_LENGTH = 16;

const HASHES = {
  'SCRAM-SHA-1': { algorithm: 'sha1', size: 20 },
  'SCRAM-SHA-256': { algorithm: 'sha256', size: 32 },
} as const satisfies Record<ScramMechanism, { algorithm: string; size: number }>;

export function hashSize(mechanism: ScramMechanism): number {
  return HASHES[mechanism].size;
}

export function hmac(mechanism: ScramMechanism, key: Uint8Array, data: Uint8Array | string): Buffer {
  return createHmac(HASHES[mechanism].algorithm, key).update(data).digest();
}

export function digest(mechanism: ScramMechanism, data: Uint8Array): Buffer {
  return createHash(HASHES[mechanism].algorithm).update(data).digest();
}

/** A stored credential with its fields decoded and checked against the mechanism's hash size. */
export interface DecodedCredential {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

export function decodeCredential(mechanism: ScramMechanism, credential: ScramCredential): DecodedCredential {
  const salt = decodeBase64(credential.salt);
  const storedKey = decodeBase64(credential.storedKey);
  const serverKey = decodeBase64(credential.serverKey);
  const size = hashSize(mechanism);
  if (
    salt === undefined ||
    salt.length === 0 ||
    !validIterations(credential.iterations) ||
    storedKey?.length !== size ||
    serverKey?.length !== size
  ) {
    throw new CredentialError('HF_SASL_CREDENTIAL_INVALID', `stored ${mechanism} credential is malformed`);
  }
  return { salt, iterations: credential.iterations, storedKey, serverKey };
}

function validIterations(iterations: number): boolean {
  return Number.isSafeInteger(iterations) && iterations >= 1 && iterations <= 0x7fffffff;
}

function pbkdf2Async(
  mechanism: ScramMechanism,
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<Buffer> {
  const { algorithm, size } = HASHES[mechanism];
  return new Promise<Buffer>((resolve, reject) => {
    pbkdf2(Buffer.from(password, 'utf8'), salt, iterations, size, algorithm, (error, key) => {
      if (error) reject(error);
      else resolve(key);
    });
  });
}

/** RFC 5802 §3 keys from an already SASLprepped password. */
export async function deriveKeys(
  mechanism: ScramMechanism,
  prepared: string,
  salt: Uint8Array,
  iterations: number,
): Promise<{ readonly storedKey: Buffer; readonly serverKey: Buffer }> {
  if (salt.length === 0) throw new CredentialError('HF_SASL_PARAMETER_INVALID', 'salt must not be empty');
  if (!validIterations(iterations)) {
    throw new CredentialError('HF_SASL_PARAMETER_INVALID', `invalid iteration count ${iterations}`);
  }
  const saltedPassword = await pbkdf2Async(mechanism, prepared, salt, iterations);
  return {
    storedKey: digest(mechanism, hmac(mechanism, saltedPassword, 'Client Key')),
    serverKey: hmac(mechanism, saltedPassword, 'Server Key'),
  };
}

async function deriveFromPrepared(
  mechanism: ScramMechanism,
  prepared: string,
  salt: Uint8Array,
  iterations: number,
): Promise<ScramCredential> {
  const { storedKey, serverKey } = await deriveKeys(mechanism, prepared, salt, iterations);
  return {
    salt: Buffer.from(salt).toString('base64'),
    iterations,
    storedKey: storedKey.toString('base64'),
    serverKey: serverKey.toString('base64'),
  };
}

/**
 * RFC 5802 §3: SaltedPassword = Hi(Normalize(password), salt, i), Hi being PBKDF2 with HMAC-H;
 * StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key").
 * Normalize is SASLprep for a stored string (throws `SaslprepError`). PBKDF2 runs on the libuv thread
 * pool, off the event loop; the result depends on the inputs only.
 */
export async function deriveScramCredential(
  mechanism: ScramMechanism,
  password: string,
  parameters: { readonly salt: Uint8Array; readonly iterations: number },
): Promise<ScramCredential> {
  return deriveFromPrepared(mechanism, saslprep(password), parameters.salt, parameters.iterations);
}

/**
 * Credentials for a new password, for both mechanisms, each with its own random salt of `SALT_LENGTH`
 * bytes. Refuses an empty password (after SASLprep) and fewer than `MIN_ITERATIONS` iterations.
 */
export async function newUserCredentials(
  password: string,
  random: (size: number) => Uint8Array,
  iterations: Readonly<Record<ScramMechanism, number>> = DEFAULT_ITERATIONS,
): Promise<UserScramCredentials> {
  const prepared = saslprep(password);
  if (prepared === '') throw new CredentialError('HF_SASL_PARAMETER_INVALID', 'password is empty');
  const derive = (mechanism: ScramMechanism): Promise<ScramCredential> => {
    const count = iterations[mechanism];
    if (!Number.isSafeInteger(count) || count < MIN_ITERATIONS) {
      throw new CredentialError(
        'HF_SASL_PARAMETER_INVALID',
        `${mechanism} needs at least ${MIN_ITERATIONS} iterations, got ${count}`,
      );
    }
    const salt = random(SALT_LENGTH);
    if (salt.length !== SALT_LENGTH) {
      throw new CredentialError('HF_SASL_PARAMETER_INVALID', `random source returned ${salt.length} bytes`);
    }
    return deriveFromPrepared(mechanism, prepared, salt, count);
  };
  const [sha1, sha256] = await Promise.all([derive('SCRAM-SHA-1'), derive('SCRAM-SHA-256')]);
  return { 'SCRAM-SHA-1': sha1, 'SCRAM-SHA-256': sha256 };
}

const FAKE_SECRET_MIN_LENGTH = 32;

/**
 * A credential for a user that does not exist, so that the exchange looks exactly like one for a real
 * user with a wrong password: same salt length, the iteration count real users have (pass the
 * configured one), and the same salt every time for the same name (a fresh random salt per attempt
 * would give the unknown user away). Derived from a server-wide secret of at least 32 bytes, which keeps
 * the salts unpredictable; the keys are HMAC outputs whose SHA preimage nobody knows, so no proof can
 * ever match them. Cheap (four HMACs), like a real SCRAM exchange; PLAIN pays the same PBKDF2 either way.
 */
export function fakeScramCredential(
  mechanism: ScramMechanism,
  parameters: { readonly secret: Uint8Array; readonly username: string; readonly iterations: number },
): ScramCredential {
  if (parameters.secret.length < FAKE_SECRET_MIN_LENGTH) {
    throw new CredentialError(
      'HF_SASL_PARAMETER_INVALID',
      `fake credential secret needs at least ${FAKE_SECRET_MIN_LENGTH} bytes`,
    );
  }
  if (!validIterations(parameters.iterations)) {
    throw new CredentialError(
      'HF_SASL_PARAMETER_INVALID',
      `invalid iteration count ${parameters.iterations}`,
    );
  }
  const key = createHmac('sha256', parameters.secret)
    .update(`holdfast fake scram credential\0${mechanism}\0${parameters.username}`)
    .digest();
  const part = (label: string, size: number): string =>
    createHmac('sha256', key).update(label).digest().subarray(0, size).toString('base64');
  const size = hashSize(mechanism);
  return {
    salt: part('salt', SALT_LENGTH),
    iterations: parameters.iterations,
    storedKey: part('stored key', size),
    serverKey: part('server key', size),
  };
}

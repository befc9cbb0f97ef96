import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  DEFAULT_ITERATIONS,
  deriveScramCredential,
  fakeScramCredential,
  newUserCredentials,
} from './credentials.js';
import type { ScramMechanism } from './credentials.js';

/** Deterministic stand-in for crypto.randomBytes: consecutive byte values. */
function counterRandom(): (size: number) => Buffer {
  let next = 0;
  return (size) => Buffer.from(Array.from({ length: size }, () => next++ & 0xff));
}

/** RFC 5802 §3 written out independently of the code under test (ASCII passwords only). */
function reference(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number) {
  const algorithm = mechanism === 'SCRAM-SHA-1' ? 'sha1' : 'sha256';
  const salted = pbkdf2Sync(password, salt, iterations, algorithm === 'sha1' ? 20 : 32, algorithm);
  const clientKey = createHmac(algorithm, salted).update('Client Key').digest();
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: createHash(algorithm).update(clientKey).digest('base64'),
    serverKey: createHmac(algorithm, salted).update('Server Key').digest('base64'),
  };
}

const secret = Buffer.alloc(32, 7);
const failsWith = (code: string): unknown => expect.objectContaining({ code });

describe('deriveScramCredential', () => {
  it('follows RFC 5802 §3 for both hashes', async () => {
    const sha1Salt = Buffer.from('QSXCR+Q6sek8bf92', 'base64');
    expect(
      await deriveScramCredential('SCRAM-SHA-1', 'pencil', { salt: sha1Salt, iterations: 4096 }),
    ).toEqual(reference('SCRAM-SHA-1', 'pencil', sha1Salt, 4096));
    const sha256Salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    expect(
      await deriveScramCredential('SCRAM-SHA-256', 'pencil', { salt: sha256Salt, iterations: 4096 }),
    ).toEqual(reference('SCRAM-SHA-256', 'pencil', sha256Salt, 4096));
  });

  it('derives from the SASLprepped password', async () => {
    const parameters = { salt: Buffer.from('salt'), iterations: 1 };
    expect(await deriveScramCredential('SCRAM-SHA-256', 'p\u00ADencil\u2168', parameters)).toEqual(
      await deriveScramCredential('SCRAM-SHA-256', 'pencilIX', parameters),
    );
    await expect(deriveScramCredential('SCRAM-SHA-256', 'bell\u0007', parameters)).rejects.toThrow(
      failsWith('HF_SASLPREP_PROHIBITED'),
    );
  });

  it('rejects an empty salt and impossible iteration counts', async () => {
    for (const parameters of [
      { salt: Buffer.alloc(0), iterations: 4096 },
      { salt: Buffer.alloc(16), iterations: 0 },
      { salt: Buffer.alloc(16), iterations: 1.5 },
      { salt: Buffer.alloc(16), iterations: 2 ** 31 },
    ]) {
      await expect(deriveScramCredential('SCRAM-SHA-1', 'pencil', parameters)).rejects.toThrow(
        failsWith('HF_SASL_PARAMETER_INVALID'),
      );
    }
  });
});

describe('newUserCredentials', () => {
  it('derives both mechanisms with independent 16-byte salts and the default iterations', async () => {
    const credentials = await newUserCredentials('pencil', counterRandom());
    const sha1Salt = Buffer.from(credentials['SCRAM-SHA-1'].salt, 'base64');
    const sha256Salt = Buffer.from(credentials['SCRAM-SHA-256'].salt, 'base64');
    expect(sha1Salt).toHaveLength(16);
    expect(sha256Salt).toHaveLength(16);
    expect(sha1Salt.equals(sha256Salt)).toBe(false);
    expect(credentials['SCRAM-SHA-1']).toEqual(reference('SCRAM-SHA-1', 'pencil', sha1Salt, 4096));
    expect(credentials['SCRAM-SHA-256']).toEqual(reference('SCRAM-SHA-256', 'pencil', sha256Salt, 4096));
    expect(DEFAULT_ITERATIONS).toEqual({ 'SCRAM-SHA-1': 4096, 'SCRAM-SHA-256': 4096 });
  });

  it('takes the iteration counts as a parameter but refuses fewer than 4096', async () => {
    const credentials = await newUserCredentials('pencil', counterRandom(), {
      'SCRAM-SHA-1': 5000,
      'SCRAM-SHA-256': 6000,
    });
    expect(credentials['SCRAM-SHA-1'].iterations).toBe(5000);
    expect(credentials['SCRAM-SHA-256'].iterations).toBe(6000);
    await expect(
      newUserCredentials('pencil', counterRandom(), { 'SCRAM-SHA-1': 4096, 'SCRAM-SHA-256': 1000 }),
    ).rejects.toThrow(failsWith('HF_SASL_PARAMETER_INVALID'));
  });

  it('refuses empty passwords, prohibited characters and a broken random source', async () => {
    await expect(newUserCredentials('', counterRandom())).rejects.toThrow(
      failsWith('HF_SASL_PARAMETER_INVALID'),
    );
    await expect(newUserCredentials('\u00AD\u200C', counterRandom())).rejects.toThrow(
      failsWith('HF_SASL_PARAMETER_INVALID'),
    );
    await expect(newUserCredentials('tab\there', counterRandom())).rejects.toThrow(
      failsWith('HF_SASLPREP_PROHIBITED'),
    );
    await expect(newUserCredentials('pencil', () => Buffer.alloc(8))).rejects.toThrow(
      failsWith('HF_SASL_PARAMETER_INVALID'),
    );
  });
});

describe('fakeScramCredential', () => {
  it('is deterministic per user name and mechanism, and shaped like a real credential', async () => {
    const fake = fakeScramCredential('SCRAM-SHA-256', { secret, username: 'nobody', iterations: 4096 });
    expect(fakeScramCredential('SCRAM-SHA-256', { secret, username: 'nobody', iterations: 4096 })).toEqual(
      fake,
    );
    expect(
      fakeScramCredential('SCRAM-SHA-256', { secret, username: 'nobody2', iterations: 4096 }).salt,
    ).not.toBe(fake.salt);
    expect(
      fakeScramCredential('SCRAM-SHA-1', { secret, username: 'nobody', iterations: 4096 }).salt,
    ).not.toBe(fake.salt);
    expect(
      fakeScramCredential('SCRAM-SHA-256', {
        secret: Buffer.alloc(32, 8),
        username: 'nobody',
        iterations: 4096,
      }).salt,
    ).not.toBe(fake.salt);

    for (const mechanism of ['SCRAM-SHA-1', 'SCRAM-SHA-256'] as const) {
      const real = (await newUserCredentials('pencil', counterRandom()))[mechanism];
      const shape = (credential: typeof real) => ({
        iterations: credential.iterations,
        salt: credential.salt.length,
        storedKey: credential.storedKey.length,
        serverKey: credential.serverKey.length,
      });
      expect(shape(fakeScramCredential(mechanism, { secret, username: 'x', iterations: 4096 }))).toEqual(
        shape(real),
      );
    }
  });

  it('needs a secret of at least 32 bytes and a valid iteration count', () => {
    expect(() =>
      fakeScramCredential('SCRAM-SHA-1', { secret: Buffer.alloc(31), username: 'x', iterations: 4096 }),
    ).toThrow(failsWith('HF_SASL_PARAMETER_INVALID'));
    expect(() => fakeScramCredential('SCRAM-SHA-1', { secret, username: 'x', iterations: 0 })).toThrow(
      failsWith('HF_SASL_PARAMETER_INVALID'),
    );
  });
});

import { describe, expect, it } from 'vitest';

import { deriveScramCredential, fakeScramCredential } from './credentials.js';
import { parsePlain, verifyPassword, verifyPlain } from './plain.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');
const failsWith = (condition: string): unknown => expect.objectContaining({ name: 'SaslFailure', condition });
const identity = 'tim@example.com';
const credential = await deriveScramCredential('SCRAM-SHA-256', 'tanstaaftanstaaf', {
  salt: Buffer.from('0123456789abcdef'),
  iterations: 4096,
});
const account = { identity, mechanism: 'SCRAM-SHA-256', credential } as const;

describe('parsePlain (RFC 4616 §2)', () => {
  it('parses the RFC 4616 §4 examples', () => {
    expect(parsePlain(bytes('\0tim\0tanstaaftanstaaf'))).toEqual({
      authzid: undefined,
      authcid: 'tim',
      password: 'tanstaaftanstaaf',
    });
    expect(parsePlain(bytes('Ursel\0Kurt\0xipj3plmq'))).toEqual({
      authzid: 'Ursel',
      authcid: 'Kurt',
      password: 'xipj3plmq',
    });
  });

  it('keeps UTF-8 fields, spaces and a leading byte order mark as sent', () => {
    expect(parsePlain(bytes('\uFEFFa\0jürgen\0pä ss wörd'))).toEqual({
      authzid: '\uFEFFa',
      authcid: 'jürgen',
      password: 'pä ss wörd',
    });
  });

  it('refuses a wrong field count, empty authcid or password, and invalid UTF-8', () => {
    for (const message of [
      '',
      'tim',
      'tim\0secret',
      '\0tim\0pass\0word',
      '\0\0\0',
      '\0\0secret',
      '\0tim\0',
      'a\0\0b',
    ]) {
      expect(() => parsePlain(bytes(message)), JSON.stringify(message)).toThrow(
        failsWith('malformed-request'),
      );
    }
    expect(() => parsePlain(Buffer.from([0, 0x74, 0, 0xc3, 0x28]))).toThrow(failsWith('malformed-request'));
  });
});

describe('verifyPassword', () => {
  it('checks a password against the stored credential', async () => {
    expect(await verifyPassword('SCRAM-SHA-256', 'tanstaaftanstaaf', credential)).toBe(true);
    expect(await verifyPassword('SCRAM-SHA-256', 'tanstaaftanstaag', credential)).toBe(false);
    expect(await verifyPassword('SCRAM-SHA-256', 'tanstaaf\u00ADtanstaaf', credential)).toBe(true);
  });

  it('treats passwords SASLprep refuses, or prepares to nothing, as wrong', async () => {
    expect(await verifyPassword('SCRAM-SHA-256', 'tanstaaf\u0007', credential)).toBe(false);
    expect(await verifyPassword('SCRAM-SHA-256', '\u00AD', credential)).toBe(false);
  });

  it('refuses a stored credential that does not decode', async () => {
    await expect(verifyPassword('SCRAM-SHA-1', 'tanstaaftanstaaf', credential)).rejects.toThrow(
      expect.objectContaining({ name: 'CredentialError', code: 'HF_SASL_CREDENTIAL_INVALID' }),
    );
  });
});

describe('verifyPlain', () => {
  it('authenticates, with or without an authzid naming the account itself', async () => {
    expect(await verifyPlain(parsePlain(bytes('\0tim\0tanstaaftanstaaf')), account)).toEqual({ identity });
    expect(await verifyPlain(parsePlain(bytes(`${identity}\0tim\0tanstaaftanstaaf`)), account)).toEqual({
      identity,
    });
  });

  it('answers not-authorized for a wrong password and for an unknown user', async () => {
    await expect(verifyPlain(parsePlain(bytes('\0tim\0wrong')), account)).rejects.toThrow(
      failsWith('not-authorized'),
    );
    const fake = fakeScramCredential('SCRAM-SHA-256', {
      secret: Buffer.alloc(32, 3),
      username: 'nobody',
      iterations: 4096,
    });
    await expect(
      verifyPlain(parsePlain(bytes('\0nobody\0tanstaaftanstaaf')), { ...account, credential: fake }),
    ).rejects.toThrow(failsWith('not-authorized'));
  });

  it('answers invalid-authzid for another identity, but only with the right password', async () => {
    await expect(verifyPlain(parsePlain(bytes('Ursel\0tim\0tanstaaftanstaaf')), account)).rejects.toThrow(
      failsWith('invalid-authzid'),
    );
    await expect(verifyPlain(parsePlain(bytes('Ursel\0tim\0wrong')), account)).rejects.toThrow(
      failsWith('not-authorized'),
    );
  });

  it('answers temporary-auth-failure when the stored credential is unreadable', async () => {
    await expect(
      verifyPlain(parsePlain(bytes('\0tim\0tanstaaftanstaaf')), {
        ...account,
        credential: { ...credential, storedKey: '' },
      }),
    ).rejects.toThrow(failsWith('temporary-auth-failure'));
  });
});

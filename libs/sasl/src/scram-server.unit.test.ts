import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { deriveScramCredential, fakeScramCredential, newUserCredentials } from './credentials.js';
import type { ScramCredential, ScramMechanism } from './credentials.js';
import { newServerNonce, startScram } from './scram-server.js';
import type { ScramChallenge } from './scram-server.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');
const failsWith = (condition: string): unknown => expect.objectContaining({ name: 'SaslFailure', condition });
const identity = 'user@example.com';

/** Deterministic stand-in for crypto.randomBytes: consecutive byte values. */
function counterRandom(): (size: number) => Buffer {
  let next = 0;
  return (size) => Buffer.from(Array.from({ length: size }, () => next++ & 0xff));
}

/**
 * A SCRAM client written straight from RFC 5802 §3 with node:crypto, sharing no code with the server.
 * ASCII passwords and user names only (no SASLprep, no saslname escaping).
 */
function scramClient(mechanism: ScramMechanism, username: string, password: string, clientNonce: string) {
  const algorithm = mechanism === 'SCRAM-SHA-1' ? 'sha1' : 'sha256';
  const hmac = (key: Buffer, data: string) => createHmac(algorithm, key).update(data).digest();
  const gs2Header = 'n,,';
  const bare = `n=${username},r=${clientNonce}`;
  return {
    first: gs2Header + bare,
    final(serverFirst: string) {
      const attributes = new Map(serverFirst.split(',').map((field) => [field[0], field.slice(2)]));
      const nonce = attributes.get('r') ?? '';
      expect(nonce.startsWith(clientNonce)).toBe(true);
      const salted = pbkdf2Sync(
        password,
        Buffer.from(attributes.get('s') ?? '', 'base64'),
        Number(attributes.get('i')),
        algorithm === 'sha1' ? 20 : 32,
        algorithm,
      );
      const clientKey = hmac(salted, 'Client Key');
      const storedKey = createHash(algorithm).update(clientKey).digest();
      const withoutProof = `c=${Buffer.from(gs2Header).toString('base64')},r=${nonce}`;
      const authMessage = `${bare},${serverFirst},${withoutProof}`;
      const signature = hmac(storedKey, authMessage);
      const proof = Buffer.from(clientKey.map((byte, i) => byte ^ (signature[i] ?? 0)));
      return {
        message: `${withoutProof},p=${proof.toString('base64')}`,
        serverFinal: `v=${hmac(hmac(salted, 'Server Key'), authMessage).toString('base64')}`,
      };
    },
  };
}

const rfc5802 = {
  clientFirst: 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL',
  serverNonce: '3rfcNHYJY1ZVvWVs7j',
  serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
  clientFinal: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
  serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
};
const rfc7677 = {
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

const sha1Pencil = await deriveScramCredential('SCRAM-SHA-1', 'pencil', {
  salt: Buffer.from('QSXCR+Q6sek8bf92', 'base64'),
  iterations: 4096,
});
const sha256Pencil = await deriveScramCredential('SCRAM-SHA-256', 'pencil', {
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  iterations: 4096,
});

/** The RFC 7677 exchange up to the server-first-message, with another client-first if given. */
function rfc7677Challenge(clientFirst = rfc7677.clientFirst, credential = sha256Pencil): ScramChallenge {
  return startScram('SCRAM-SHA-256', bytes(clientFirst)).challenge(
    { identity, credential },
    rfc7677.serverNonce,
  );
}

describe('SCRAM server: RFC test vectors', () => {
  it('reproduces the RFC 5802 §5 SCRAM-SHA-1 exchange', () => {
    const start = startScram('SCRAM-SHA-1', bytes(rfc5802.clientFirst));
    expect(start.username).toBe('user');
    expect(start.authzid).toBeUndefined();
    const challenge = start.challenge({ identity, credential: sha1Pencil }, rfc5802.serverNonce);
    expect(challenge.serverFirst.toString()).toBe(rfc5802.serverFirst);
    const success = challenge.finish(bytes(rfc5802.clientFinal));
    expect(success.serverFinal.toString()).toBe(rfc5802.serverFinal);
    expect(success.identity).toBe(identity);
  });

  it('reproduces the RFC 7677 §3 SCRAM-SHA-256 exchange', () => {
    const challenge = rfc7677Challenge();
    expect(challenge.serverFirst.toString()).toBe(rfc7677.serverFirst);
    expect(challenge.finish(bytes(rfc7677.clientFinal)).serverFinal.toString()).toBe(rfc7677.serverFinal);
  });
});

describe('SCRAM server: a full exchange with an independent client', () => {
  it('authenticates against credentials from newUserCredentials, over both hashes', async () => {
    const credentials = await newUserCredentials('correct horse battery staple', counterRandom());
    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-1'] as const) {
      const client = scramClient(mechanism, 'alice', 'correct horse battery staple', 'Zm9vYmFyYmF6cXV4');
      const start = startScram(mechanism, bytes(client.first));
      expect(start.username).toBe('alice');
      const challenge = start.challenge(
        { identity: 'alice@example.com', credential: credentials[mechanism] },
        newServerNonce(counterRandom()),
      );
      const final = client.final(challenge.serverFirst.toString());
      const success = challenge.finish(bytes(final.message));
      expect(success.serverFinal.toString()).toBe(final.serverFinal);
      expect(success.identity).toBe('alice@example.com');
    }
  });

  it('keeps the stored keys off the state objects', () => {
    const challenge = rfc7677Challenge();
    const success = challenge.finish(bytes(rfc7677.clientFinal));
    for (const state of [challenge, success]) {
      expect(JSON.stringify(state)).not.toContain(sha256Pencil.storedKey);
      expect(JSON.stringify(state)).not.toContain(sha256Pencil.serverKey);
    }
  });
});

describe('SCRAM server: authentication failures', () => {
  it('answers not-authorized for a wrong password', async () => {
    const wrong = await deriveScramCredential('SCRAM-SHA-256', 'pencil2', {
      salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
      iterations: 4096,
    });
    expect(() => rfc7677Challenge(undefined, wrong).finish(bytes(rfc7677.clientFinal))).toThrow(
      failsWith('not-authorized'),
    );
    const flipped = rfc7677.clientFinal.replace('p=dHzb', 'p=dHzc');
    expect(() => rfc7677Challenge().finish(bytes(flipped))).toThrow(failsWith('not-authorized'));
  });

  it('treats an unknown user, through a fake credential, exactly like a wrong password', () => {
    const fake = fakeScramCredential('SCRAM-SHA-256', {
      secret: Buffer.alloc(32, 1),
      username: 'user',
      iterations: 4096,
    });
    const challenge = rfc7677Challenge(undefined, fake);
    const serverFirst = challenge.serverFirst.toString();
    expect(serverFirst).toMatch(
      /^r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj\)hNlF\$k0,s=[A-Za-z0-9+/]{22}==,i=4096$/,
    );
    const client = scramClient('SCRAM-SHA-256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
    const final = client.final(serverFirst);
    expect(() => challenge.finish(bytes(final.message))).toThrow(failsWith('not-authorized'));
  });

  it('answers temporary-auth-failure for an unreadable stored credential', () => {
    const broken: ScramCredential[] = [
      { ...sha256Pencil, storedKey: 'not base64!' },
      { ...sha256Pencil, serverKey: sha1Pencil.serverKey },
      { ...sha256Pencil, salt: '' },
      { ...sha256Pencil, iterations: 0 },
    ];
    for (const credential of broken) {
      expect(() => rfc7677Challenge(undefined, credential)).toThrow(failsWith('temporary-auth-failure'));
    }
  });

  it('refuses a server nonce outside the printable alphabet (a caller bug)', () => {
    const start = startScram('SCRAM-SHA-256', bytes(rfc7677.clientFirst));
    for (const nonce of ['', 'a,b', 'a b', 'é']) {
      expect(() => start.challenge({ identity, credential: sha256Pencil }, nonce)).toThrow(
        expect.objectContaining({ name: 'CredentialError', code: 'HF_SASL_PARAMETER_INVALID' }),
      );
    }
  });
});

describe('SCRAM server: client-first-message parsing (RFC 5802 §7)', () => {
  it('decodes =2C and =3D in the user name, and only those', () => {
    expect(startScram('SCRAM-SHA-1', bytes('n,,n=a=2Cb=3Dc,r=abc')).username).toBe('a,b=c');
    expect(startScram('SCRAM-SHA-1', bytes('n,,n==3D2C,r=abc')).username).toBe('=2C');
    expect(startScram('SCRAM-SHA-1', bytes('n,,n=j=2cd,r=abc')).username).toBe('j,d');
    expect(startScram('SCRAM-SHA-1', bytes('n,,n=jürgen,r=abc')).username).toBe('jürgen');
    for (const name of ['=', 'a=', 'a=2', 'a=2X', 'a=41', '==3D']) {
      expect(() => startScram('SCRAM-SHA-1', bytes(`n,,n=${name},r=abc`)), name).toThrow(
        failsWith('malformed-request'),
      );
    }
  });

  it('accepts y,, and optional extensions', () => {
    expect(startScram('SCRAM-SHA-1', bytes('y,,n=user,r=abc')).username).toBe('user');
    expect(startScram('SCRAM-SHA-1', bytes('n,,n=user,r=abc,x=ext,Q=more=stuff')).username).toBe('user');
  });

  it('refuses malformed messages, channel binding and mandatory extensions with malformed-request', () => {
    const cases = [
      '',
      'n',
      'n,',
      'n,,',
      'N,,n=user,r=abc',
      'x,,n=user,r=abc',
      'p=tls-unique,,n=user,r=abc',
      'p=tls-exporter,a=user@example.com,n=user,r=abc',
      'n,z=x,n=user,r=abc',
      'n,a=,n=user,r=abc',
      'n,,m=ext,n=user,r=abc',
      'n,,r=abc,n=user',
      'n,,n=,r=abc',
      'n,,n=user',
      'n,,n=user,r=',
      'n,,n=user,r=a b',
      'n,,n=user,s=abc',
      'n,,n=user,r=abc,',
      'n,,n=user,r=abc,1=x',
      'n,,n=user,r=abc,xy=z',
      'n,,n=us\0er,r=abc',
    ];
    for (const message of cases) {
      expect(() => startScram('SCRAM-SHA-256', bytes(message)), JSON.stringify(message)).toThrow(
        failsWith('malformed-request'),
      );
    }
    expect(() => startScram('SCRAM-SHA-256', Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xff]))).toThrow(
      failsWith('malformed-request'),
    );
  });

  it('says why channel binding is refused', () => {
    expect(() => startScram('SCRAM-SHA-256', bytes('p=tls-exporter,,n=user,r=abc'))).toThrow(
      expect.objectContaining({ text: 'channel binding requested, but SCRAM-SHA-256-PLUS is not offered' }),
    );
  });
});

describe('SCRAM server: client-final-message checks', () => {
  const [withoutProof = '', proof = ''] = rfc7677.clientFinal.split(',p=');
  const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';

  it('refuses a tampered channel binding, a wrong nonce, missing fields and a bad proof', () => {
    const cases = [
      rfc7677.clientFinal.replace('c=biws', 'c=eSws'),
      rfc7677.clientFinal.replace('c=biws', 'c=biwsbiws'),
      rfc7677.clientFinal.replace('c=biws', 'c=bi ws'),
      rfc7677.clientFinal.replace(`r=${nonce}`, 'r=rOprNGfwEbeRWgbNEkqO'),
      rfc7677.clientFinal.replace(`r=${nonce}`, `r=${nonce}x`),
      withoutProof,
      `${withoutProof},p=`,
      `${withoutProof},p=${proof.slice(4)}`,
      `${withoutProof},p=${proof.slice(0, -1)}`,
      `${withoutProof},p=${proof.replace('+', '-')}`,
      `${withoutProof},p=${Buffer.from(proof, 'base64').subarray(0, 20).toString('base64')}`,
      `r=${nonce},p=${proof}`,
      `c=biws,p=${proof}`,
      `r=${nonce},c=biws,p=${proof}`,
      `c=biws,r=${nonce},1=x,p=${proof}`,
      `p=${proof}`,
      '',
      `${withoutProof},p=${proof}\0`,
    ];
    for (const message of cases) {
      expect(() => rfc7677Challenge().finish(bytes(message)), JSON.stringify(message)).toThrow(
        failsWith('malformed-request'),
      );
    }
  });

  it('checks the channel binding before the proof, so a downgraded header cannot pass', () => {
    const client = scramClient('SCRAM-SHA-256', 'user', 'pencil', 'abc');
    const challenge = startScram('SCRAM-SHA-256', bytes('y,,n=user,r=abc')).challenge(
      { identity, credential: sha256Pencil },
      'xyz',
    );
    // The client signed c=biws (n,,) while the server saw y,,: someone rewrote the header in transit.
    expect(() => challenge.finish(bytes(client.final(challenge.serverFirst.toString()).message))).toThrow(
      failsWith('malformed-request'),
    );
  });

  it('covers extensions with the proof, so one inserted in transit fails', () => {
    const client = scramClient('SCRAM-SHA-256', 'user', 'pencil', 'abc');
    const challenge = startScram('SCRAM-SHA-256', bytes(client.first)).challenge(
      { identity, credential: sha256Pencil },
      'xyz',
    );
    const final = client.final(challenge.serverFirst.toString());
    const extended = final.message.replace(',p=', ',x=extension,p=');
    // The proof covers the message without the extension, so the server must reject it.
    expect(() => challenge.finish(bytes(extended))).toThrow(failsWith('not-authorized'));
    expect(challenge.finish(bytes(final.message)).serverFinal.toString()).toBe(final.serverFinal);
  });
});

describe('SCRAM server: authorization identity', () => {
  /** An RFC 7677-style exchange with an authzid, signed by a client that knows the password. */
  function exchangeWithAuthzid(authzidField: string, account: string, password = 'pencil') {
    const gs2Header = `n,${authzidField},`;
    const bare = 'n=user,r=abc';
    const challenge = startScram('SCRAM-SHA-256', bytes(gs2Header + bare)).challenge(
      { identity: account, credential: sha256Pencil },
      'xyz',
    );
    const serverFirst = challenge.serverFirst.toString();
    const salted = pbkdf2Sync(
      password,
      Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
      4096,
      32,
      'sha256',
    );
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=${Buffer.from(gs2Header).toString('base64')},r=abcxyz`;
    const signature = createHmac('sha256', storedKey)
      .update(`${bare},${serverFirst},${withoutProof}`)
      .digest();
    const proof = Buffer.from(clientKey.map((byte, i) => byte ^ (signature[i] ?? 0)));
    return () => challenge.finish(bytes(`${withoutProof},p=${proof.toString('base64')}`));
  }

  it('accepts an authzid equal to the authenticated bare JID', () => {
    expect(startScram('SCRAM-SHA-256', bytes('n,a=user@example.com,n=user,r=abc')).authzid).toBe(
      'user@example.com',
    );
    expect(exchangeWithAuthzid('a=user@example.com', identity)().identity).toBe(identity);
    expect(startScram('SCRAM-SHA-256', bytes('n,a=odd=2Cname,n=user,r=abc')).authzid).toBe('odd,name');
  });

  it('answers invalid-authzid for any other identity, but only after a valid proof', () => {
    expect(exchangeWithAuthzid('a=admin@example.com', identity)).toThrow(failsWith('invalid-authzid'));
    expect(exchangeWithAuthzid('a=user@example.com/resource', identity)).toThrow(
      failsWith('invalid-authzid'),
    );
    expect(exchangeWithAuthzid('a=admin@example.com', identity, 'wrong')).toThrow(
      failsWith('not-authorized'),
    );
  });
});

describe('newServerNonce', () => {
  it('makes 24 printable characters from 18 random bytes', () => {
    const nonce = newServerNonce(counterRandom());
    expect(nonce).toBe(Buffer.from(Array.from({ length: 18 }, (_, i) => i)).toString('base64'));
    expect(nonce).toMatch(/^[\x21-\x2B\x2D-\x7E]{24}$/);
    expect(() => newServerNonce(() => Buffer.alloc(4))).toThrow(
      expect.objectContaining({ code: 'HF_SASL_PARAMETER_INVALID' }),
    );
  });
});

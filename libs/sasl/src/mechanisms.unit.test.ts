import { describe, expect, it } from 'vitest';

import { offeredMechanisms, selectMechanism } from './mechanisms.js';

const tls = { tls: true, allowPlainWithoutTls: false };
const plaintext = { tls: false, allowPlainWithoutTls: false };
const plaintextAllowed = { tls: false, allowPlainWithoutTls: true };

describe('offeredMechanisms', () => {
  it('offers SCRAM always, strongest first, and PLAIN only over TLS unless allowed', () => {
    expect(offeredMechanisms(tls)).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
    expect(offeredMechanisms(plaintext)).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1']);
    expect(offeredMechanisms(plaintextAllowed)).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
  });
});

describe('selectMechanism', () => {
  it('accepts offered mechanisms by their exact name', () => {
    expect(selectMechanism('SCRAM-SHA-256', plaintext)).toBe('SCRAM-SHA-256');
    expect(selectMechanism('SCRAM-SHA-1', tls)).toBe('SCRAM-SHA-1');
    expect(selectMechanism('PLAIN', tls)).toBe('PLAIN');
    expect(selectMechanism('PLAIN', plaintextAllowed)).toBe('PLAIN');
  });

  it('answers encryption-required for PLAIN without TLS', () => {
    expect(() => selectMechanism('PLAIN', plaintext)).toThrow(
      expect.objectContaining({ name: 'SaslFailure', condition: 'encryption-required' }),
    );
  });

  it('answers invalid-mechanism for anything not offered', () => {
    for (const name of [
      'SCRAM-SHA-256-PLUS',
      'SCRAM-SHA-1-PLUS',
      'scram-sha-256',
      'DIGEST-MD5',
      'ANONYMOUS',
      '',
    ]) {
      expect(() => selectMechanism(name, tls), name).toThrow(
        expect.objectContaining({ name: 'SaslFailure', condition: 'invalid-mechanism' }),
      );
    }
  });
});

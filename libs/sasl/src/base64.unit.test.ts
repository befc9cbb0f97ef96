import { describe, expect, it } from 'vitest';

import { decodeBase64, decodeSaslPayload, encodeSaslPayload } from './base64.js';

describe('SASL payloads (RFC 6120 §6.4.2)', () => {
  it('distinguishes no data from empty data', () => {
    expect(decodeSaslPayload('')).toBeUndefined();
    expect(decodeSaslPayload('=')).toEqual(Buffer.alloc(0));
    expect(encodeSaslPayload(new Uint8Array(0))).toBe('=');
  });

  it('round-trips data', () => {
    expect(decodeSaslPayload('biws')?.toString()).toBe('n,,');
    const bytes = new Uint8Array([0, 1, 2, 250, 251, 252, 253]);
    expect(decodeSaslPayload(encodeSaslPayload(bytes))).toEqual(Buffer.from(bytes));
    expect(encodeSaslPayload(bytes.subarray(3, 5))).toBe(Buffer.from([250, 251]).toString('base64'));
  });

  it('refuses anything but strict, canonical base64 with incorrect-encoding', () => {
    for (const bad of ['biw', 'bi ws', 'biws\n', 'YQ', 'YQ=', 'YR==', 'YWI=x', '-_8=', '====', 'Y===']) {
      expect(() => decodeSaslPayload(bad), bad).toThrow(
        expect.objectContaining({ name: 'SaslFailure', condition: 'incorrect-encoding' }),
      );
      expect(decodeBase64(bad), bad).toBeUndefined();
    }
  });
});

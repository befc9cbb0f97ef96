import { describe, expect, it } from 'vitest';

import { normalizeAddress, urlHost } from './address.js';

describe('normalizeAddress', () => {
  it('turns IPv4-mapped IPv6 into the IPv4 address and leaves others alone', () => {
    expect(normalizeAddress('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(normalizeAddress('::FFFF:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeAddress('192.0.2.7')).toBe('192.0.2.7');
    expect(normalizeAddress('2001:db8::1')).toBe('2001:db8::1');
    expect(normalizeAddress('::ffff:c000:207')).toBe('::ffff:c000:207');
  });
});

describe('urlHost', () => {
  it('brackets IPv6 literals only', () => {
    expect(urlHost('::1')).toBe('[::1]');
    expect(urlHost('127.0.0.1')).toBe('127.0.0.1');
    expect(urlHost('xmpp.example.org')).toBe('xmpp.example.org');
  });
});

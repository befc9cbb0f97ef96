import { describe, expect, it } from 'vitest';

import { NS } from './namespaces.js';

describe('NS', () => {
  it('is frozen', () => {
    expect(Object.isFrozen(NS)).toBe(true);
    expect(() => {
      (NS as Record<string, string>).CLIENT = 'jabber:server';
    }).toThrow(TypeError);
  });

  it('names each namespace once', () => {
    const values = Object.values(NS);
    expect(new Set(values).size).toBe(values.length);
  });

  it('spells the core namespaces as RFC 6120 and RFC 7395 do', () => {
    expect(NS).toMatchObject({
      CLIENT: 'jabber:client',
      STREAM: 'http://etherx.jabber.org/streams',
      STREAM_ERROR: 'urn:ietf:params:xml:ns:xmpp-streams',
      STANZA_ERROR: 'urn:ietf:params:xml:ns:xmpp-stanzas',
      FRAMING: 'urn:ietf:params:xml:ns:xmpp-framing',
    });
  });
});

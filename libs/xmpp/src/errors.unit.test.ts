import { describe, expect, it } from 'vitest';

import { NS } from './namespaces.js';
import { serialize } from './serialize.js';
import {
  STANZA_ERROR_CONDITIONS,
  STANZA_ERROR_TYPES,
  StanzaError,
  errorReply,
  isStanzaErrorCondition,
  isStanzaErrorType,
  stanzaErrorElement,
} from './stanza-error.js';
import {
  STREAM_ERROR_CONDITIONS,
  StreamError,
  isStreamErrorCondition,
  streamErrorElement,
} from './stream-error.js';
import { xml } from './xml.js';

describe('StreamError', () => {
  it('lists the 25 conditions of RFC 6120 §4.9.3', () => {
    expect(STREAM_ERROR_CONDITIONS).toHaveLength(25);
    expect(new Set(STREAM_ERROR_CONDITIONS).size).toBe(25);
    expect(isStreamErrorCondition('restricted-xml')).toBe(true);
    expect(isStreamErrorCondition('xml-not-well-formed')).toBe(false);
  });

  it('is an Error with a stable code and a cause', () => {
    const cause = new Error('saxes said no');
    const error = new StreamError('not-well-formed', { text: 'unexpected close tag.', cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('StreamError');
    expect(error.code).toBe('HF_XMPP_STREAM_ERROR');
    expect(error.condition).toBe('not-well-formed');
    expect(error.message).toBe('not-well-formed: unexpected close tag.');
    expect(error.cause).toBe(cause);
    expect(new StreamError('reset').message).toBe('reset');
    expect('cause' in new StreamError('reset')).toBe(false);
  });

  it('builds <stream:error/> (RFC 6120 §4.9.2), complete on its own', () => {
    expect(serialize(streamErrorElement(new StreamError('host-unknown')))).toBe(
      '<stream:error xmlns:stream="http://etherx.jabber.org/streams">' +
        '<host-unknown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>',
    );
    const error = new StreamError('see-other-host', {
      data: '[2001:db8::9]:5222',
      text: 'moved',
      lang: 'en',
      application: xml('moved', { xmlns: 'urn:example:app' }),
    });
    const element = streamErrorElement(error);
    expect(serialize(element)).toBe(
      '<stream:error xmlns:stream="http://etherx.jabber.org/streams">' +
        '<see-other-host xmlns="urn:ietf:params:xml:ns:xmpp-streams">[2001:db8::9]:5222</see-other-host>' +
        '<text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">moved</text>' +
        '<moved xmlns="urn:example:app"/></stream:error>',
    );
    expect(element.is('error', NS.STREAM)).toBe(true);
  });
});

describe('StanzaError', () => {
  it('lists the 5 types of RFC 6120 §8.3.2 and the 22 conditions of §8.3.3', () => {
    expect(STANZA_ERROR_TYPES).toEqual(['auth', 'cancel', 'continue', 'modify', 'wait']);
    expect(STANZA_ERROR_CONDITIONS).toHaveLength(22);
    expect(new Set(STANZA_ERROR_CONDITIONS).size).toBe(22);
    expect(isStanzaErrorType('modify')).toBe(true);
    expect(isStanzaErrorType('fatal')).toBe(false);
    expect(isStanzaErrorCondition('jid-malformed')).toBe(true);
    expect(isStanzaErrorCondition('host-unknown')).toBe(false);
  });

  it('is an Error with a stable code', () => {
    const error = new StanzaError('cancel', 'item-not-found', { by: 'example.com' });
    expect(error.name).toBe('StanzaError');
    expect(error.code).toBe('HF_XMPP_STANZA_ERROR');
    expect(error.message).toBe('cancel/item-not-found');
    expect(error.by).toBe('example.com');
  });

  it('builds <error/> (RFC 6120 §8.3.2)', () => {
    const element = stanzaErrorElement({
      type: 'modify',
      condition: 'gone',
      data: 'xmpp:romeo@example.net',
      text: 'moved on',
      lang: 'en',
      by: 'example.com',
      application: xml('too-late', { xmlns: 'urn:example:app' }),
    });
    expect(serialize(element)).toBe(
      '<error type="modify" by="example.com">' +
        '<gone xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">xmpp:romeo@example.net</gone>' +
        '<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas" xml:lang="en">moved on</text>' +
        '<too-late xmlns="urn:example:app"/></error>',
    );
  });
});

describe('errorReply (RFC 6120 §8.3.1)', () => {
  const iq = xml(
    'iq',
    { xmlns: NS.CLIENT, from: 'juliet@example.com/balcony', to: 'example.com', id: 'r1', type: 'get' },
    xml('query', { xmlns: NS.ROSTER }),
  );

  it('swaps addresses, keeps id, name and namespace, and drops the payload', () => {
    const reply = errorReply(
      iq,
      new StanzaError('cancel', 'service-unavailable', { text: 'no', by: 'example.com' }),
    );
    expect(reply && serialize(reply)).toBe(
      '<iq xmlns="jabber:client" from="example.com" to="juliet@example.com/balcony" id="r1" type="error">' +
        '<error type="cancel" by="example.com">' +
        '<service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>' +
        '<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">no</text></error></iq>',
    );
  });

  it('leaves out addresses and ids the stanza did not have', () => {
    const message = xml('message', { to: 'romeo@example.net' }, xml('body', {}, 'secret'));
    const reply = errorReply(message, { type: 'cancel', condition: 'remote-server-not-found' });
    expect(reply && serialize(reply)).toBe(
      '<message from="romeo@example.net" type="error"><error type="cancel">' +
        '<remote-server-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>',
    );
  });

  it('never answers an error, an IQ result or a nonza', () => {
    const error = { type: 'cancel', condition: 'bad-request' } as const;
    expect(errorReply(xml('message', { type: 'error' }), error)).toBeUndefined();
    expect(errorReply(xml('presence', { type: 'error' }), error)).toBeUndefined();
    expect(errorReply(xml('iq', { type: 'result', id: '1' }), error)).toBeUndefined();
    expect(errorReply(xml('enable', { xmlns: NS.SM }), error)).toBeUndefined();
    expect(errorReply(xml('presence', { type: 'subscribe' }), error)).toBeDefined();
    expect(errorReply(xml('message', { type: 'result' }), error)).toBeDefined();
  });
});

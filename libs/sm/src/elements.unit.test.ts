import { NS, serialize, streamErrorElement, xml } from '@holdfast/xmpp';
import { describe, expect, it } from 'vitest';

import {
  ackElement,
  enabledElement,
  failedElement,
  handledCountTooHighError,
  handledCountTooLowError,
  requestElement,
  resumedElement,
  stampDelay,
} from './elements.js';

describe('SM nonzas (spec §1.2)', () => {
  it('given a plain enable, then <enabled/> has no id, resume or max (scenario 3)', () => {
    expect(serialize(enabledElement({ resumable: false }))).toBe('<enabled xmlns="urn:xmpp:sm:3"/>');
  });

  it("given a resumable enable, then id, resume='true' and max (scenario 4)", () => {
    expect(serialize(enabledElement({ resumable: true, id: 'c2lk', max: 5 }))).toBe(
      '<enabled xmlns="urn:xmpp:sm:3" id="c2lk" resume="true" max="5"/>',
    );
  });

  it('adds location only when configured', () => {
    expect(serialize(enabledElement({ resumable: true, id: 'c2lk', max: 5, location: 'gw1:5222' }))).toBe(
      '<enabled xmlns="urn:xmpp:sm:3" id="c2lk" resume="true" max="5" location="gw1:5222"/>',
    );
    expect(serialize(enabledElement({ resumable: false, location: undefined }))).toBe(
      '<enabled xmlns="urn:xmpp:sm:3"/>',
    );
  });

  it('builds <failed/> with the condition in the stanzas namespace and an optional h (§1.4)', () => {
    expect(serialize(failedElement({ condition: 'item-not-found' }))).toBe(
      '<failed xmlns="urn:xmpp:sm:3"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>',
    );
    const withH = failedElement({ condition: 'item-not-found', h: 4 });
    expect(withH.attrs.h).toBe('4');
    expect(withH.getChild('item-not-found', NS.STANZA_ERROR)).toBeDefined();
    expect(failedElement({ condition: 'item-not-found', h: 0 }).attrs.h).toBe('0');
  });

  it('builds <resumed/>, <a/> and <r/>', () => {
    expect(serialize(resumedElement('c2lk', 3))).toBe('<resumed xmlns="urn:xmpp:sm:3" previd="c2lk" h="3"/>');
    expect(serialize(ackElement(4294967295))).toBe('<a xmlns="urn:xmpp:sm:3" h="4294967295"/>');
    expect(serialize(ackElement(0))).toBe('<a xmlns="urn:xmpp:sm:3" h="0"/>');
    expect(serialize(requestElement())).toBe('<r xmlns="urn:xmpp:sm:3"/>');
  });
});

describe('SM stream errors (spec §1.5)', () => {
  it('given h too high, then undefined-condition with <handled-count-too-high/> (scenario 12)', () => {
    const error = handledCountTooHighError({ h: 3, sendCount: 2 });
    expect(error.condition).toBe('undefined-condition');
    const child = streamErrorElement(error).getChild('handled-count-too-high', NS.SM);
    expect(child?.attrs).toEqual({ xmlns: NS.SM, h: '3', 'send-count': '2' });
  });

  it('given h too low, then undefined-condition with text only (scenario 13)', () => {
    const error = handledCountTooLowError({ h: 1, acked: 2 });
    expect(error.condition).toBe('undefined-condition');
    expect(error.application).toBeUndefined();
    expect(error.text).toMatch(/1.*2/);
    const element = streamErrorElement(error);
    expect(element.getChildElements().map((child) => child.getName())).toEqual([
      'undefined-condition',
      'text',
    ]);
  });
});

describe('stampDelay (spec §2.5)', () => {
  const at = new Date('2025-03-01T12:00:00.250Z');
  const alice = 'alice@example.org';

  it('given a message, then a stamped copy and the original untouched', () => {
    const message = xml(
      'message',
      { to: `${alice}/phone`, from: 'bob@example.org/pc', id: 'm2' },
      xml('body', {}, 'hi'),
    );
    const before = serialize(message);
    const copy = stampDelay(message, alice, at);
    expect(copy).not.toBe(message);
    expect(serialize(message)).toBe(before);
    expect(copy.attrs).toEqual(message.attrs);
    expect(copy.getChildText('body')).toBe('hi');
    expect(copy.getChild('delay', NS.DELAY)?.attrs).toEqual({
      xmlns: NS.DELAY,
      from: alice,
      stamp: '2025-03-01T12:00:00.250Z',
    });
  });

  it('given a presence, then it is stamped too', () => {
    const copy = stampDelay(xml('presence', { from: 'bob@example.org/pc' }), alice, at);
    expect(copy.getChild('delay', NS.DELAY)?.attrs.stamp).toBe('2025-03-01T12:00:00.250Z');
  });

  it('given an iq, then an unstamped copy', () => {
    const iq = xml('iq', { type: 'get', id: 'q1' }, xml('ping', { xmlns: NS.PING }));
    const copy = stampDelay(iq, alice, at);
    expect(copy).not.toBe(iq);
    expect(serialize(copy)).toBe(serialize(iq));
  });

  it('given a stanza that already carries a delay, then it is not re-stamped (§7.12)', () => {
    const replay = xml(
      'message',
      { id: 'h1' },
      xml('body', {}, 'old'),
      xml('delay', { xmlns: NS.DELAY, from: 'room@muc.example.org', stamp: '2020-01-01T00:00:00Z' }),
    );
    const copy = stampDelay(replay, alice, at);
    expect(copy).not.toBe(replay);
    expect(serialize(copy)).toBe(serialize(replay));
    expect(copy.getChildren('delay', NS.DELAY)).toHaveLength(1);
  });

  it('given a delay-like child in another namespace, then it still stamps', () => {
    const message = xml('message', {}, xml('delay', { xmlns: 'urn:example:other' }));
    expect(stampDelay(message, alice, at).getChild('delay', NS.DELAY)).toBeDefined();
  });

  it('refuses an invalid Date as a caller error', () => {
    expect(() => stampDelay(xml('message'), alice, new Date(Number.NaN))).toThrow(
      expect.objectContaining({ name: 'SmError', code: 'HF_SM_TIME_INVALID' }),
    );
  });
});

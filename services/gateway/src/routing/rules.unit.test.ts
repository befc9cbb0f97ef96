import { describe, expect, it } from 'vitest';
import { xml } from '@holdfast/xmpp';
import type { Element } from '@holdfast/xmpp';

import { addressee, route } from './rules.js';
import type { ResourceRecord, Route, RoutingContext } from './rules.js';

const DOMAIN = 'example.com';
const JULIET = 'juliet@example.com';
const ROMEO = 'romeo@example.net/orchard';

function resource(name: string, priority: number, available = true): ResourceRecord {
  return { jid: `${JULIET}/${name}`, gateway: 'gw-1', session: `s-${name}`, priority, available };
}

// RFC 6121's own cast, plus a resource that is bound but has not sent initial presence ("connected").
const balcony = resource('balcony', 1);
const chamber = resource('chamber', 1);
const orchard = resource('orchard', 0);
const hidden = resource('hidden', -1);
const fresh = resource('fresh', 0, false);

/** Resource sets the tables below run against. */
const SETS = {
  /** Two at the top priority, one at zero, one negative, one only connected. */
  all: [balcony, chamber, orchard, hidden, fresh],
  one: [orchard],
  mixed: [orchard, hidden],
  negativeOnly: [hidden],
  connectedOnly: [fresh],
  none: [],
} satisfies Record<string, readonly ResourceRecord[]>;
type SetName = keyof typeof SETS;

type Expected = 'offline' | 'server' | 'remote' | 'drop' | `error:${string}` | readonly string[];

/** Route → something a table can state: resource names for `deliver`, `error:<condition>/<type>` etc. */
function outcome(result: Route): Expected {
  switch (result.kind) {
    case 'deliver':
      return result.to.map((record) => record.jid.slice(record.jid.indexOf('/') + 1));
    case 'error':
      return `error:${result.condition}/${result.type}`;
    default:
      return result.kind;
  }
}

function stanza(name: 'message' | 'presence' | 'iq', to: string | undefined, type?: string): Element {
  return xml(name, { xmlns: 'jabber:client', from: ROMEO, to, type, id: 'x1' });
}

function ctx(resources: readonly ResourceRecord[], accountExists = true): RoutingContext {
  return { domain: DOMAIN, accountExists, resources };
}

interface Case {
  readonly section: string;
  readonly name: 'message' | 'presence' | 'iq';
  readonly type?: string;
  readonly set: SetName;
  readonly expected: Expected;
}

function runTable(to: string, cases: readonly Case[], accountExists = true): void {
  it.each(cases.map((c) => ({ ...c, title: `${c.name} ${c.type ?? '(no type)'} with ${c.set}` })))(
    '$section: $title',
    ({ name, type, set, expected }) => {
      expect(outcome(route(stanza(name, to, type), ctx(SETS[set], accountExists)))).toEqual(expected);
    },
  );
}

describe('§8.5.1 no such user', () => {
  const cases: Case[] = [
    { section: '§8.5.1', name: 'iq', type: 'get', set: 'none', expected: 'error:service-unavailable/cancel' },
    { section: '§8.5.1', name: 'iq', type: 'set', set: 'none', expected: 'error:service-unavailable/cancel' },
    { section: '§8.5.1, RFC 6120 §8.2.3', name: 'iq', type: 'result', set: 'none', expected: 'drop' },
    { section: '§8.5.1, RFC 6120 §8.3.1', name: 'iq', type: 'error', set: 'none', expected: 'drop' },
    { section: '§8.5.1 (b)', name: 'message', set: 'none', expected: 'error:service-unavailable/cancel' },
    {
      section: '§8.5.1 (b)',
      name: 'message',
      type: 'normal',
      set: 'none',
      expected: 'error:service-unavailable/cancel',
    },
    {
      section: '§8.5.1 (b)',
      name: 'message',
      type: 'chat',
      set: 'none',
      expected: 'error:service-unavailable/cancel',
    },
    {
      section: '§8.5.1 (b)',
      name: 'message',
      type: 'groupchat',
      set: 'none',
      expected: 'error:service-unavailable/cancel',
    },
    {
      section: '§8.5.1 (b)',
      name: 'message',
      type: 'headline',
      set: 'none',
      expected: 'error:service-unavailable/cancel',
    },
    { section: '§8.5.1, RFC 6120 §8.3.1', name: 'message', type: 'error', set: 'none', expected: 'drop' },
    { section: '§8.5.1', name: 'presence', set: 'none', expected: 'drop' },
    { section: '§8.5.1', name: 'presence', type: 'unavailable', set: 'none', expected: 'drop' },
    { section: '§8.5.1', name: 'presence', type: 'subscribe', set: 'none', expected: 'drop' },
    { section: '§8.5.1', name: 'presence', type: 'subscribed', set: 'none', expected: 'drop' },
    { section: '§8.5.1', name: 'presence', type: 'unsubscribe', set: 'none', expected: 'drop' },
    { section: '§8.5.1', name: 'presence', type: 'unsubscribed', set: 'none', expected: 'drop' },
    { section: '§8.5.1 (a)', name: 'presence', type: 'probe', set: 'none', expected: 'drop' },
    { section: '§8.5.1', name: 'presence', type: 'error', set: 'none', expected: 'drop' },
  ];
  describe('to the bare JID', () => {
    runTable(JULIET, cases, false);
  });
  describe('to a full JID', () => {
    runTable(`${JULIET}/balcony`, cases, false);
  });
  it('§8.5.1: resources left in the registry do not resurrect a deleted account', () => {
    const result = route(stanza('message', `${JULIET}/balcony`, 'chat'), ctx(SETS.all, false));
    expect(outcome(result)).toBe('error:service-unavailable/cancel');
  });
});

describe('§8.5.2 to the bare JID', () => {
  runTable(JULIET, [
    // §8.5.2.1.1 messages with eligible resources; §4.7.2.3 negative priority never receives them.
    {
      section: '§8.5.2.1.1 most available',
      name: 'message',
      type: 'chat',
      set: 'all',
      expected: ['balcony', 'chamber'],
    },
    {
      section: '§8.5.2.1.1 most available',
      name: 'message',
      type: 'normal',
      set: 'all',
      expected: ['balcony', 'chamber'],
    },
    {
      section: '§8.5.2.1.1, §5.2.2 no type = normal',
      name: 'message',
      set: 'all',
      expected: ['balcony', 'chamber'],
    },
    {
      section: '§8.5.2.1.1, §5.2.2 unknown type = normal',
      name: 'message',
      type: 'shout',
      set: 'all',
      expected: ['balcony', 'chamber'],
    },
    {
      section: '§8.5.2.1.1 one non-negative',
      name: 'message',
      type: 'chat',
      set: 'one',
      expected: ['orchard'],
    },
    { section: '§8.5.2.1.1, §4.7.2.3', name: 'message', type: 'chat', set: 'mixed', expected: ['orchard'] },
    {
      section: '§8.5.2.1.1 only negative → §8.5.2.2',
      name: 'message',
      type: 'chat',
      set: 'negativeOnly',
      expected: 'offline',
    },
    {
      section: '§8.5.2.1.1 only negative → §8.5.2.2',
      name: 'message',
      type: 'normal',
      set: 'negativeOnly',
      expected: 'offline',
    },
    {
      section: '§8.5.2.1.1 connected only → §8.5.2.2',
      name: 'message',
      type: 'chat',
      set: 'connectedOnly',
      expected: 'offline',
    },
    {
      section: '§8.5.2.1.1',
      name: 'message',
      type: 'groupchat',
      set: 'all',
      expected: 'error:service-unavailable/cancel',
    },
    {
      section: '§8.5.2.1.1 all non-negative',
      name: 'message',
      type: 'headline',
      set: 'all',
      expected: ['balcony', 'chamber', 'orchard'],
    },
    { section: '§8.5.2.1.1', name: 'message', type: 'headline', set: 'mixed', expected: ['orchard'] },
    {
      section: '§8.5.2.1.1 only negative: ignore',
      name: 'message',
      type: 'headline',
      set: 'negativeOnly',
      expected: 'drop',
    },
    { section: '§8.5.2.1.1', name: 'message', type: 'error', set: 'all', expected: 'drop' },
    // §8.5.2.2.1 no available resources.
    {
      section: '§8.5.2.2.1 (a) offline storage',
      name: 'message',
      type: 'chat',
      set: 'none',
      expected: 'offline',
    },
    {
      section: '§8.5.2.2.1 (a) offline storage',
      name: 'message',
      type: 'normal',
      set: 'none',
      expected: 'offline',
    },
    { section: '§8.5.2.2.1, §5.2.2', name: 'message', set: 'none', expected: 'offline' },
    {
      section: '§8.5.2.2.1',
      name: 'message',
      type: 'groupchat',
      set: 'none',
      expected: 'error:service-unavailable/cancel',
    },
    { section: '§8.5.2.2.1', name: 'message', type: 'headline', set: 'none', expected: 'drop' },
    { section: '§8.5.2.2.1', name: 'message', type: 'headline', set: 'connectedOnly', expected: 'drop' },
    { section: '§8.5.2.2.1', name: 'message', type: 'error', set: 'none', expected: 'drop' },
    // §8.5.2.1.2 presence: to every available resource, negative priority included, connected-only not.
    {
      section: '§8.5.2.1.2',
      name: 'presence',
      set: 'all',
      expected: ['balcony', 'chamber', 'orchard', 'hidden'],
    },
    {
      section: '§8.5.2.1.2',
      name: 'presence',
      type: 'unavailable',
      set: 'all',
      expected: ['balcony', 'chamber', 'orchard', 'hidden'],
    },
    { section: '§8.5.2.1.2', name: 'presence', set: 'negativeOnly', expected: ['hidden'] },
    {
      section: '§8.5.2.1.2 (errors as unavailable)',
      name: 'presence',
      type: 'error',
      set: 'mixed',
      expected: ['orchard', 'hidden'],
    },
    { section: '§8.5.2.1.2 → §3', name: 'presence', type: 'subscribe', set: 'all', expected: 'server' },
    { section: '§8.5.2.1.2 → §3', name: 'presence', type: 'subscribed', set: 'all', expected: 'server' },
    { section: '§8.5.2.1.2 → §3', name: 'presence', type: 'unsubscribe', set: 'all', expected: 'server' },
    { section: '§8.5.2.1.2 → §3', name: 'presence', type: 'unsubscribed', set: 'all', expected: 'server' },
    { section: '§8.5.2.1.2 → §4.3', name: 'presence', type: 'probe', set: 'all', expected: 'server' },
    // §8.5.2.2.2 presence without available resources.
    { section: '§8.5.2.2.2 ignore, not stored', name: 'presence', set: 'none', expected: 'drop' },
    {
      section: '§8.5.2.2.2 ignore, not stored',
      name: 'presence',
      type: 'unavailable',
      set: 'connectedOnly',
      expected: 'drop',
    },
    { section: '§8.5.2.2.2', name: 'presence', type: 'error', set: 'none', expected: 'drop' },
    {
      section: '§8.5.2.2.2 → §3 (stored by the server)',
      name: 'presence',
      type: 'subscribe',
      set: 'none',
      expected: 'server',
    },
    { section: '§8.5.2.2.2 → §3', name: 'presence', type: 'subscribed', set: 'none', expected: 'server' },
    { section: '§8.5.2.2.2 → §3', name: 'presence', type: 'unsubscribe', set: 'none', expected: 'server' },
    { section: '§8.5.2.2.2 → §3', name: 'presence', type: 'unsubscribed', set: 'none', expected: 'server' },
    { section: '§8.5.2.2.2 → §4.3', name: 'presence', type: 'probe', set: 'none', expected: 'server' },
    // §8.5.2.1.3 / §8.5.2.2.3 IQ: the server answers for the account.
    { section: '§8.5.2.1.3', name: 'iq', type: 'get', set: 'all', expected: 'server' },
    { section: '§8.5.2.1.3', name: 'iq', type: 'set', set: 'all', expected: 'server' },
    { section: '§8.5.2.1.3', name: 'iq', type: 'result', set: 'all', expected: 'server' },
    { section: '§8.5.2.1.3', name: 'iq', type: 'error', set: 'all', expected: 'server' },
    { section: '§8.5.2.2.3', name: 'iq', type: 'get', set: 'none', expected: 'server' },
    { section: '§8.5.2.2.3', name: 'iq', type: 'set', set: 'connectedOnly', expected: 'server' },
  ]);

  it('§8.5.2.1.1: "most available" is every resource sharing the highest priority, in registry order', () => {
    const records = [
      resource('a', 3),
      resource('b', 7),
      resource('c', 7, false),
      resource('d', 7),
      resource('e', 5),
    ];
    expect(outcome(route(stanza('message', JULIET, 'chat'), ctx(records)))).toEqual(['b', 'd']);
  });

  it('§4.7.2.3: priority 0 is eligible, -1 is not, -128 and 127 are handled', () => {
    const records = [resource('low', -128), resource('zero', 0), resource('high', 127)];
    expect(outcome(route(stanza('message', JULIET, 'chat'), ctx(records)))).toEqual(['high']);
    expect(outcome(route(stanza('message', JULIET, 'headline'), ctx(records)))).toEqual(['zero', 'high']);
  });
});

describe('§8.5.3 to a full JID', () => {
  describe('§8.5.3.1 resource matches', () => {
    runTable(`${JULIET}/hidden`, [
      { section: '§8.5.3.1', name: 'message', type: 'chat', set: 'all', expected: ['hidden'] },
      { section: '§8.5.3.1', name: 'message', type: 'normal', set: 'all', expected: ['hidden'] },
      { section: '§8.5.3.1, §5.2.2', name: 'message', set: 'all', expected: ['hidden'] },
      { section: '§8.5.3.1', name: 'message', type: 'groupchat', set: 'all', expected: ['hidden'] },
      { section: '§8.5.3.1', name: 'message', type: 'headline', set: 'all', expected: ['hidden'] },
      { section: '§8.5.3.1', name: 'message', type: 'error', set: 'all', expected: ['hidden'] },
      { section: '§8.5.3.1', name: 'iq', type: 'get', set: 'all', expected: ['hidden'] },
      { section: '§8.5.3.1', name: 'iq', type: 'result', set: 'all', expected: ['hidden'] },
      { section: '§8.5.3.1', name: 'iq', type: 'error', set: 'all', expected: ['hidden'] },
      { section: '§8.5.3.1 directed presence', name: 'presence', set: 'all', expected: ['hidden'] },
      {
        section: '§8.5.3.1 directed presence',
        name: 'presence',
        type: 'unavailable',
        set: 'all',
        expected: ['hidden'],
      },
      { section: '§8.5.3.1', name: 'presence', type: 'error', set: 'all', expected: ['hidden'] },
      { section: '§8.5.3.1 → §4.3', name: 'presence', type: 'probe', set: 'all', expected: 'server' },
      {
        section: '§3.1.3: handled as to the bare JID',
        name: 'presence',
        type: 'subscribe',
        set: 'all',
        expected: 'server',
      },
      {
        section: '§3: handled as to the bare JID',
        name: 'presence',
        type: 'subscribed',
        set: 'all',
        expected: 'server',
      },
      {
        section: '§3: handled as to the bare JID',
        name: 'presence',
        type: 'unsubscribe',
        set: 'all',
        expected: 'server',
      },
      {
        section: '§3: handled as to the bare JID',
        name: 'presence',
        type: 'unsubscribed',
        set: 'all',
        expected: 'server',
      },
    ]);
  });

  describe('§8.5.3.1 a connected resource (no initial presence yet) matches too', () => {
    runTable(`${JULIET}/fresh`, [
      { section: '§8.5.3.1', name: 'iq', type: 'set', set: 'all', expected: ['fresh'] },
      { section: '§8.5.3.1', name: 'message', type: 'chat', set: 'all', expected: ['fresh'] },
      { section: '§8.5.3.1', name: 'presence', set: 'connectedOnly', expected: ['fresh'] },
    ]);
  });

  describe('§8.5.3.2 no resource matches', () => {
    runTable(`${JULIET}/gone`, [
      {
        section: '§8.5.3.2.1 chat (a): as bare JID',
        name: 'message',
        type: 'chat',
        set: 'all',
        expected: ['balcony', 'chamber'],
      },
      {
        section: '§8.5.3.2.1 chat (a): as bare JID',
        name: 'message',
        type: 'chat',
        set: 'mixed',
        expected: ['orchard'],
      },
      {
        section: '§8.5.3.2.1 chat, none available: offline',
        name: 'message',
        type: 'chat',
        set: 'none',
        expected: 'offline',
      },
      {
        section: '§8.5.3.2.1 chat, only negative: offline',
        name: 'message',
        type: 'chat',
        set: 'negativeOnly',
        expected: 'offline',
      },
      {
        section: '§8.5.3.2.1 normal (b)',
        name: 'message',
        type: 'normal',
        set: 'all',
        expected: 'error:service-unavailable/cancel',
      },
      {
        section: '§8.5.3.2.1 normal (b), §5.2.2',
        name: 'message',
        set: 'none',
        expected: 'error:service-unavailable/cancel',
      },
      {
        section: '§8.5.3.2.1 groupchat (b)',
        name: 'message',
        type: 'groupchat',
        set: 'all',
        expected: 'error:service-unavailable/cancel',
      },
      { section: '§8.5.3.2.1 headline (a)', name: 'message', type: 'headline', set: 'all', expected: 'drop' },
      { section: '§8.5.3.2.1', name: 'message', type: 'error', set: 'all', expected: 'drop' },
      { section: '§8.5.3.2.2', name: 'presence', set: 'all', expected: 'drop' },
      { section: '§8.5.3.2.2', name: 'presence', type: 'unavailable', set: 'all', expected: 'drop' },
      { section: '§8.5.3.2.2', name: 'presence', type: 'error', set: 'all', expected: 'drop' },
      {
        section: '§8.5.3.2.2 → §3.1.3',
        name: 'presence',
        type: 'subscribe',
        set: 'none',
        expected: 'server',
      },
      { section: '§8.5.3.2.2 → §3', name: 'presence', type: 'subscribed', set: 'all', expected: 'server' },
      { section: '§8.5.3.2.2 → §3', name: 'presence', type: 'unsubscribe', set: 'all', expected: 'server' },
      { section: '§8.5.3.2.2 → §3', name: 'presence', type: 'unsubscribed', set: 'none', expected: 'server' },
      { section: '§8.5.3.2.2 → §4.3.2', name: 'presence', type: 'probe', set: 'none', expected: 'server' },
      {
        section: '§8.5.3.2.3',
        name: 'iq',
        type: 'get',
        set: 'all',
        expected: 'error:service-unavailable/cancel',
      },
      {
        section: '§8.5.3.2.3',
        name: 'iq',
        type: 'set',
        set: 'none',
        expected: 'error:service-unavailable/cancel',
      },
      { section: '§8.5.3.2.3, RFC 6120 §8.2.3', name: 'iq', type: 'result', set: 'all', expected: 'drop' },
      { section: '§8.5.3.2.3, RFC 6120 §8.3.1', name: 'iq', type: 'error', set: 'all', expected: 'drop' },
    ]);
  });

  it('RFC 7622 §3.2-§3.4: the addressee is compared prepared; resourceparts are case-sensitive', () => {
    const upper = route(stanza('iq', 'Juliet@EXAMPLE.com/balcony', 'get'), ctx(SETS.all));
    expect(outcome(upper)).toEqual(['balcony']);
    const otherCase = route(stanza('iq', `${JULIET}/Balcony`, 'get'), ctx(SETS.all));
    expect(outcome(otherCase)).toBe('error:service-unavailable/cancel');
  });

  it('a resourcepart that merely starts like another one does not match', () => {
    const result = route(stanza('iq', `${JULIET}/balc`, 'get'), ctx(SETS.all));
    expect(outcome(result)).toBe('error:service-unavailable/cancel');
  });
});

describe('§8.2 no to address', () => {
  it('§8.2.1: a message without to is for the sender’s own bare JID', () => {
    const message = xml('message', { from: `${JULIET}/balcony`, type: 'chat' });
    expect(addressee(message, DOMAIN)).toMatchObject({ kind: 'user' });
    expect(String((addressee(message, DOMAIN) as { jid: unknown }).jid)).toBe(JULIET);
    expect(outcome(route(message, ctx(SETS.all)))).toEqual(['balcony', 'chamber']);
    expect(outcome(route(message, ctx(SETS.none)))).toBe('offline');
  });

  it.each([
    { section: '§8.2.2 broadcast', name: 'presence' as const, type: undefined },
    { section: '§8.2.2', name: 'presence' as const, type: 'unavailable' },
    { section: '§8.2.3', name: 'iq' as const, type: 'get' },
    { section: '§8.2.3', name: 'iq' as const, type: 'result' },
  ])('$section: $name $type is the server’s', ({ name, type }) => {
    expect(outcome(route(stanza(name, undefined, type), ctx(SETS.all)))).toBe('server');
  });

  it('§8.2.1: without to or a usable from, a message is malformed', () => {
    expect(outcome(route(xml('message', { type: 'chat' }), ctx([])))).toBe('error:jid-malformed/modify');
    expect(outcome(route(xml('message', { type: 'error' }), ctx([])))).toBe('drop');
  });
});

describe('RFC 6120 §10.5.1-§10.5.2 / §8.4 stanzas to the domain', () => {
  it.each([
    { to: DOMAIN, name: 'iq' as const, type: 'get' },
    { to: DOMAIN, name: 'iq' as const, type: 'result' },
    { to: DOMAIN, name: 'iq' as const, type: 'error' },
    { to: DOMAIN, name: 'message' as const, type: 'chat' },
    { to: DOMAIN, name: 'message' as const, type: 'error' },
    { to: DOMAIN, name: 'presence' as const, type: 'probe' },
    { to: DOMAIN, name: 'presence' as const, type: 'subscribe' },
    { to: `${DOMAIN}/admin`, name: 'iq' as const, type: 'set' },
    { to: 'EXAMPLE.com.', name: 'iq' as const, type: 'get' },
  ])('$name $type to $to is the server’s', ({ to, name, type }) => {
    expect(outcome(route(stanza(name, to, type), ctx(SETS.all)))).toBe('server');
    expect(addressee(stanza(name, to, type), DOMAIN)).toEqual({ kind: 'server' });
  });
});

describe('§8.3 remote domains', () => {
  it.each([
    { to: 'romeo@example.net', name: 'message' as const, type: 'chat' },
    { to: 'romeo@example.net/orchard', name: 'message' as const, type: 'error' },
    { to: 'example.net', name: 'iq' as const, type: 'get' },
    { to: 'romeo@example.net', name: 'iq' as const, type: 'result' },
    { to: 'romeo@example.net', name: 'presence' as const, type: 'subscribe' },
    { to: 'chat.example.com', name: 'presence' as const, type: undefined },
    { to: 'juliet@sub.example.com', name: 'message' as const, type: 'chat' },
  ])('$name $type to $to goes to s2s', ({ to, name, type }) => {
    expect(outcome(route(stanza(name, to, type), ctx(SETS.all)))).toBe('remote');
    expect(addressee(stanza(name, to, type), DOMAIN).kind).toBe('remote');
  });
});

describe('malformed stanzas', () => {
  it.each([
    { name: 'message' as const, type: 'chat', expected: 'error:jid-malformed/modify' },
    { name: 'iq' as const, type: 'get', expected: 'error:jid-malformed/modify' },
    { name: 'presence' as const, type: undefined, expected: 'error:jid-malformed/modify' },
    { name: 'message' as const, type: 'error', expected: 'drop' },
    { name: 'presence' as const, type: 'error', expected: 'drop' },
    { name: 'iq' as const, type: 'error', expected: 'drop' },
    { name: 'iq' as const, type: 'result', expected: 'drop' },
  ])('RFC 6120 §8.3.3.8: $name $type to a non-JID → $expected', ({ name, type, expected }) => {
    expect(outcome(route(stanza(name, 'juliet@exa mple.com', type), ctx(SETS.all)))).toBe(expected);
    expect(addressee(stanza(name, '@example.com', type), DOMAIN)).toEqual({ kind: 'malformed' });
  });

  it('RFC 6121 §4.7.1: a presence of unknown type is a bad request', () => {
    expect(outcome(route(stanza('presence', JULIET, 'invisible'), ctx(SETS.all)))).toBe(
      'error:bad-request/modify',
    );
  });

  it('RFC 6120 §8.2.3: an IQ without or with an unknown type is a bad request', () => {
    expect(outcome(route(stanza('iq', JULIET), ctx(SETS.all)))).toBe('error:bad-request/modify');
    expect(outcome(route(stanza('iq', `${JULIET}/balcony`, 'push'), ctx(SETS.all)))).toBe(
      'error:bad-request/modify',
    );
  });

  it('an element that is not a stanza is dropped', () => {
    expect(outcome(route(xml('r', { xmlns: 'urn:xmpp:sm:3' }), ctx(SETS.all)))).toBe('drop');
  });
});

describe('invariants over every combination', () => {
  const names = ['message', 'presence', 'iq'] as const;
  const types: Record<(typeof names)[number], readonly (string | undefined)[]> = {
    message: [undefined, 'normal', 'chat', 'groupchat', 'headline', 'error', 'bogus'],
    presence: [
      undefined,
      'unavailable',
      'subscribe',
      'subscribed',
      'unsubscribe',
      'unsubscribed',
      'probe',
      'error',
    ],
    iq: ['get', 'set', 'result', 'error'],
  };
  const addresses = [
    JULIET,
    `${JULIET}/balcony`,
    `${JULIET}/hidden`,
    `${JULIET}/fresh`,
    `${JULIET}/gone`,
    DOMAIN,
    'romeo@example.net',
    'not a jid@',
    undefined,
  ];
  const combinations = names.flatMap((name) =>
    types[name].flatMap((type) =>
      addresses.flatMap((to) =>
        Object.entries(SETS).flatMap(([set, resources]) =>
          [true, false].map((accountExists) => ({ name, type, to, set, resources, accountExists })),
        ),
      ),
    ),
  );

  it(`holds for all ${combinations.length} combinations`, () => {
    const stranger: ResourceRecord = {
      jid: 'juliet@example.com.evil/balcony',
      gateway: 'gw-9',
      session: 's-evil',
      priority: 127,
      available: true,
    };
    for (const { name, type, to, resources, accountExists } of combinations) {
      const element = stanza(name, to, type);
      const result = route(element, ctx([...resources, stranger], accountExists));
      const label = `${name} ${type ?? '-'} to ${to ?? '-'}`;
      // RFC 6120 §8.3.1: never answer an error; §8.2.3: never answer a result.
      if (type === 'error' || (name === 'iq' && type === 'result'))
        expect(result.kind, label).not.toBe('error');
      // §8.5.1: nothing reaches a resource of an account that does not exist.
      if (!accountExists) expect(result.kind, label).not.toBe('deliver');
      if (result.kind === 'deliver') {
        expect(result.to.length, label).toBeGreaterThan(0);
        // Only the addressee's own resources ever receive anything.
        expect(result.to, label).not.toContain(stranger);
        const bareMessage = name === 'message' && to !== undefined && !to.includes('/');
        // §4.7.2.3: negative priorities and connected-only resources never get bare-JID messages.
        if (bareMessage)
          expect(
            result.to.every((r) => r.available && r.priority >= 0),
            label,
          ).toBe(true);
      }
      // Only messages are stored offline (XEP-0160), and only normal and chat ones.
      if (result.kind === 'offline') expect(['normal', 'chat', undefined, 'bogus'], label).toContain(type);
    }
  });
});

describe('addressee', () => {
  it('names the local account to look up, prepared', () => {
    const target = addressee(stanza('message', 'Juliet@Example.com/Balcony', 'chat'), DOMAIN);
    expect(target.kind).toBe('user');
    expect(target.kind === 'user' && target.jid.bare().toString()).toBe(JULIET);
    expect(target.kind === 'user' && target.jid.resource).toBe('Balcony');
  });

  it('does not need the context of a lookup for server, remote or malformed addressees', () => {
    // A caller that skipped the lookup passes an empty context; the route must not depend on it.
    const empty: RoutingContext = { domain: DOMAIN, accountExists: false, resources: [] };
    expect(outcome(route(stanza('iq', DOMAIN, 'get'), empty))).toBe('server');
    expect(outcome(route(stanza('iq', 'x@example.org', 'get'), empty))).toBe('remote');
  });
});

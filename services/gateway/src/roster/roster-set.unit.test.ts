import { StanzaError, errorReply, serialize, xml, type Element } from '@holdfast/xmpp';
import { describe, expect, it } from 'vitest';

import { newRosterItem, withState, type RosterItem } from './model.js';
import {
  DEFAULT_ROSTER_LIMITS,
  decideRosterSet,
  parseRosterQuery,
  rosterGetResult,
  rosterSetResult,
  type RosterLimits,
  type RosterSetQuery,
} from './roster-set.js';
import { rosterPush } from './stanzas.js';

const ALICE = 'alice@home.example';
const BOB = 'bob@away.example';
const ROSTER = 'jabber:iq:roster';

function rosterIq(type: string, items: Element[] = [], attrs: Record<string, string> = {}): Element {
  return xml(
    'iq',
    { xmlns: 'jabber:client', type, id: 'r1', from: `${ALICE}/phone`, ...attrs },
    xml('query', { xmlns: ROSTER }, items),
  );
}

function setItem(attrs: Record<string, string>, groups: string[] = []): Element {
  return rosterIq('set', [xml('item', attrs, ...groups.map((group) => xml('group', null, group)))]);
}

function parseError(iq: Element, limits?: RosterLimits): StanzaError {
  try {
    parseRosterQuery(iq, ALICE, limits);
  } catch (error) {
    if (error instanceof StanzaError) return error;
    throw error;
  }
  throw new Error('expected a StanzaError');
}

describe('RFC 6121 §2.1.3, §2.1.5, §2.3.3: reading roster queries', () => {
  it('reads a roster get, also when addressed to the user’s bare JID', () => {
    expect(parseRosterQuery(rosterIq('get'), ALICE)).toEqual({ kind: 'get' });
    expect(parseRosterQuery(rosterIq('get', [], { to: ALICE }), ALICE)).toEqual({ kind: 'get' });
  });

  it('reads a set with name and groups, and prepares the JID', () => {
    const iq = setItem({ jid: 'Bob@Away.Example', name: 'Bob' }, ['Friends', 'Work']);
    expect(parseRosterQuery(iq, ALICE)).toEqual({
      kind: 'set',
      jid: BOB,
      name: 'Bob',
      groups: ['Friends', 'Work'],
    });
  });

  it('reads subscription="remove" as a remove, ignoring the rest (§2.5.1)', () => {
    const iq = setItem({ jid: BOB, subscription: 'remove', name: 'x' }, ['g', 'g']);
    expect(parseRosterQuery(iq, ALICE)).toEqual({ kind: 'remove', jid: BOB });
  });

  it('§2.1.5: ignores any other subscription value, and ask and approved (only the server sets them)', () => {
    const ignored: Record<string, string>[] = [
      { subscription: 'both' },
      { subscription: 'foobar' },
      { ask: 'subscribe', approved: 'true' },
    ];
    for (const attrs of ignored) {
      expect(parseRosterQuery(setItem({ jid: BOB, ...attrs }), ALICE)).toEqual({
        kind: 'set',
        jid: BOB,
        name: undefined,
        groups: [],
      });
    }
  });

  it('treats an empty name as no name', () => {
    expect(parseRosterQuery(setItem({ jid: BOB, name: '' }), ALICE)).toMatchObject({ name: undefined });
  });

  const rejected: [string, Element, StanzaError['type'], StanzaError['condition']][] = [
    ['§2.1.5, §2.3.3: addressed to another account', rosterIq('get', [], { to: BOB }), 'auth', 'forbidden'],
    [
      '§2.3.3: more than one item',
      rosterIq('set', [xml('item', { jid: BOB }), xml('item', { jid: 'c@d.example' })]),
      'modify',
      'bad-request',
    ],
    ['§2.1.5: no item', rosterIq('set'), 'modify', 'bad-request'],
    ['§2.1.2.3: an item without jid', setItem({ name: 'Bob' }), 'modify', 'bad-request'],
    ['RFC 6120 §8.3.3.8: a jid that is not a JID', setItem({ jid: 'bob@' }), 'modify', 'jid-malformed'],
    ['items are bare JIDs', setItem({ jid: `${BOB}/desk` }), 'modify', 'not-acceptable'],
    ['§2.3.3: duplicate groups', setItem({ jid: BOB }, ['Friends', 'Friends']), 'modify', 'bad-request'],
    ['§2.3.3: an empty group', setItem({ jid: BOB }, ['']), 'modify', 'not-acceptable'],
    [
      '§2.3.3: a name longer than the limit',
      setItem({ jid: BOB, name: 'n'.repeat(1024) }),
      'modify',
      'not-acceptable',
    ],
    [
      '§2.3.3: a group longer than the limit',
      setItem({ jid: BOB }, ['g'.repeat(1024)]),
      'modify',
      'not-acceptable',
    ],
    [
      'more groups than the limit',
      setItem(
        { jid: BOB },
        Array.from({ length: 65 }, (_, i) => `g${i}`),
      ),
      'modify',
      'not-acceptable',
    ],
    ['neither get nor set', rosterIq('result'), 'modify', 'bad-request'],
    [
      'no roster query',
      xml('iq', { type: 'get', id: 'x' }, xml('query', { xmlns: 'jabber:iq:version' })),
      'modify',
      'bad-request',
    ],
  ];
  it.each(rejected)('rejects %s', (_what, iq, type, condition) => {
    expect(parseError(iq)).toMatchObject({ type, condition, code: 'HF_XMPP_STANZA_ERROR' });
  });

  it('counts lengths in characters, not UTF-16 units or octets', () => {
    const limits = { ...DEFAULT_ROSTER_LIMITS, maxNameLength: 3, maxGroupLength: 2 };
    expect(parseRosterQuery(setItem({ jid: BOB, name: '😀😀😀' }, ['éé']), ALICE, limits)).toMatchObject({
      name: '😀😀😀',
      groups: ['éé'],
    });
    expect(parseError(setItem({ jid: BOB, name: '😀😀😀😀' }), limits).condition).toBe('not-acceptable');
  });

  it('an error reply keeps the id and goes back to the sender (RFC 6120 §8.3.1)', () => {
    const iq = setItem({ jid: BOB }, ['a', 'a']);
    expect(serialize(errorReply(iq, parseError(iq)) as Element)).toBe(
      `<iq xmlns="jabber:client" to="${ALICE}/phone" id="r1" type="error"><error type="modify">` +
        '<bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>' +
        '<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">duplicate group "a"</text></error></iq>',
    );
  });
});

describe('RFC 6121 §2.3-§2.5: deciding roster sets', () => {
  const context = { user: ALICE, itemCount: 3 };
  const set = (name: string | undefined, groups: string[] = []): RosterSetQuery => ({
    kind: 'set',
    jid: BOB,
    name,
    groups,
  });
  const remove: RosterSetQuery = { kind: 'remove', jid: BOB };

  function decideError(query: RosterSetQuery, current: RosterItem | undefined, itemCount = 3): StanzaError {
    try {
      decideRosterSet(query, current, {
        user: ALICE,
        itemCount,
        limits: { ...DEFAULT_ROSTER_LIMITS, maxItems: 3 },
      });
    } catch (error) {
      if (error instanceof StanzaError) return error;
      throw error;
    }
    throw new Error('expected a StanzaError');
  }

  it('§2.3.2: adds a new item with subscription none and pushes it', () => {
    const decision = decideRosterSet(set('Bob', ['Friends']), undefined, context);
    const added: RosterItem = { ...newRosterItem(ALICE, BOB), name: 'Bob', groups: ['Friends'] };
    expect(decision).toEqual({
      change: { kind: 'put', item: added },
      effects: [{ kind: 'push', item: added }],
    });
  });

  it('§2.4.2: replaces name and groups, leaves the subscription state alone', () => {
    const current = withState(
      { ...newRosterItem(ALICE, BOB), name: 'Bob', groups: ['Old'] },
      'From + Pending Out',
    );
    const decision = decideRosterSet(set(undefined, ['New']), current, context);
    const updated: RosterItem = {
      owner: ALICE,
      jid: BOB,
      groups: ['New'],
      subscription: 'from',
      ask: 'subscribe',
      pendingIn: false,
      listed: true,
    };
    expect(decision).toEqual({
      change: { kind: 'put', item: updated },
      effects: [{ kind: 'push', item: updated }],
    });
  });

  it('§2.4.2: an identical set writes nothing but is still pushed', () => {
    const current = { ...newRosterItem(ALICE, BOB), name: 'Bob', groups: ['A'] };
    expect(decideRosterSet(set('Bob', ['A']), current, context)).toEqual({
      change: { kind: 'unchanged' },
      effects: [{ kind: 'push', item: current }],
    });
  });

  it('§3.1.3: adding someone whose request is pending keeps the request', () => {
    const unlisted: RosterItem = {
      ...withState(newRosterItem(ALICE, BOB), 'None + Pending In'),
      listed: false,
      pendingInStatus: 'hi',
    };
    const decision = decideRosterSet(set('Bob'), unlisted, context);
    expect(decision.change).toEqual({ kind: 'put', item: { ...unlisted, listed: true, name: 'Bob' } });
  });

  it('refuses to add beyond maxItems, but still updates existing items', () => {
    expect(decideError(set('Bob'), undefined)).toMatchObject({
      type: 'cancel',
      condition: 'policy-violation',
    });
    const current = newRosterItem(ALICE, BOB);
    expect(() =>
      decideRosterSet(set('Bob'), current, {
        user: ALICE,
        itemCount: 3,
        limits: { ...DEFAULT_ROSTER_LIMITS, maxItems: 3 },
      }),
    ).not.toThrow();
  });

  it('§2.5.3: removing an item not in the roster (or only a pending request) is item-not-found', () => {
    expect(decideError(remove, undefined)).toMatchObject({ type: 'cancel', condition: 'item-not-found' });
    const unlisted = { ...withState(newRosterItem(ALICE, BOB), 'None + Pending In'), listed: false };
    expect(decideError(remove, unlisted)).toMatchObject({ condition: 'item-not-found' });
  });

  const removals: [string, RosterItem, string[]][] = [
    ['None: only the push', withState(newRosterItem(ALICE, BOB), 'None'), []],
    ['To: unsubscribe', withState(newRosterItem(ALICE, BOB), 'To'), ['unsubscribe']],
    [
      'From: unsubscribed, then unavailable',
      withState(newRosterItem(ALICE, BOB), 'From'),
      ['unsubscribed', 'unavailable'],
    ],
    [
      'Both: unsubscribe and unsubscribed',
      withState(newRosterItem(ALICE, BOB), 'Both'),
      ['unsubscribe', 'unsubscribed', 'unavailable'],
    ],
    [
      'None + Pending Out: the request is cancelled',
      withState(newRosterItem(ALICE, BOB), 'None + Pending Out'),
      ['unsubscribe'],
    ],
    [
      'None + Pending In: the request is declined',
      withState(newRosterItem(ALICE, BOB), 'None + Pending In'),
      ['unsubscribed'],
    ],
  ];
  it.each(removals)('§2.5.2: removing an item in %s', (_state, current, sent) => {
    const decision = decideRosterSet(remove, current, context);
    expect(decision.change).toEqual({ kind: 'delete' });
    const summary = decision.effects.map((effect) => {
      switch (effect.kind) {
        case 'route':
          expect(effect.stanza.attrs).toMatchObject({ from: ALICE, to: BOB });
          return effect.stanza.attrs.type;
        case 'send-unavailable-of-user':
          expect(effect.to).toBe(BOB);
          return 'unavailable';
        case 'push':
          return `push ${effect.item.subscription}`;
        default:
          return effect.kind;
      }
    });
    expect(summary).toEqual([...sent, 'push remove']);
  });
});

describe('RFC 6121 §2.1.4, §2.1.6: roster results and pushes', () => {
  const items: RosterItem[] = [
    { ...withState(newRosterItem(ALICE, 'zed@z.example'), 'Both'), name: 'Zed', groups: ['A', 'B'] },
    { ...withState(newRosterItem(ALICE, 'carol@c.example'), 'None + Pending Out'), approved: true },
    { ...withState(newRosterItem(ALICE, BOB), 'None + Pending In'), listed: false },
  ];

  it('§2.1.4: returns the listed items by JID, with ask and approved', () => {
    expect(serialize(rosterGetResult(rosterIq('get'), items))).toBe(
      `<iq xmlns="jabber:client" type="result" id="r1" to="${ALICE}/phone"><query xmlns="${ROSTER}">` +
        '<item jid="carol@c.example" subscription="none" ask="subscribe" approved="true"/>' +
        '<item jid="zed@z.example" name="Zed" subscription="both"><group>A</group><group>B</group></item>' +
        '</query></iq>',
    );
  });

  it('§2.1.4: an empty roster is an empty query', () => {
    expect(serialize(rosterGetResult(rosterIq('get', [], { to: ALICE }), []))).toBe(
      `<iq xmlns="jabber:client" type="result" id="r1" to="${ALICE}/phone" from="${ALICE}"><query xmlns="${ROSTER}"/></iq>`,
    );
  });

  it('§2.1.2.1: approved is not shown once the contact has a subscription', () => {
    const stale = { ...withState(newRosterItem(ALICE, BOB), 'From'), approved: true };
    expect(serialize(rosterGetResult(rosterIq('get'), [stale]))).not.toContain('approved');
  });

  it('§2.3.2: the set result is empty', () => {
    expect(serialize(rosterSetResult(setItem({ jid: BOB })))).toBe(
      `<iq xmlns="jabber:client" type="result" id="r1" to="${ALICE}/phone"/>`,
    );
  });

  it('§2.1.6: pushes one item, or its removal, to a resource', () => {
    expect(serialize(rosterPush(items[0] as RosterItem, `${ALICE}/phone`, 'push1'))).toBe(
      `<iq xmlns="jabber:client" type="set" id="push1" to="${ALICE}/phone"><query xmlns="${ROSTER}">` +
        '<item jid="zed@z.example" name="Zed" subscription="both"><group>A</group><group>B</group></item></query></iq>',
    );
    expect(serialize(rosterPush({ jid: BOB, subscription: 'remove' }, `${ALICE}/desk`, 'push2'))).toBe(
      `<iq xmlns="jabber:client" type="set" id="push2" to="${ALICE}/desk"><query xmlns="${ROSTER}">` +
        `<item jid="${BOB}" subscription="remove"/></query></iq>`,
    );
  });
});

import { SmUnackedOutcome } from '@holdfast/events';
import { NS, xml } from '@holdfast/xmpp';
import type { Element } from '@holdfast/xmpp';
import { describe, expect, it } from 'vitest';

import { decideOutcomes, hasOwnStanzaId } from './outcome.js';
import type { Outcome, OutcomeAction, OutcomeInput, OutcomeRule, UnackedMessagePolicy } from './outcome.js';

// Spec references: shared/spec/stream-management.md §4 (R0-R9, bounce, policies), §2.5 (delay), §8 scenarios.

const DOMAIN = 'example.com';
const ALICE = 'alice@example.com';
const PHONE = `${ALICE}/phone`;
const LAPTOP = `${ALICE}/laptop`;
const BOB = 'bob@example.net/desk';
const ROOM = 'room@muc.example.com';
const STAMP = '2025-01-02T03:04:05.000Z';

function delay(stamp = STAMP, from = ALICE): Element {
  return xml('delay', { xmlns: NS.DELAY, from, stamp });
}

function stanzaId(by: string, id = 'arch-1'): Element {
  return xml('stanza-id', { xmlns: NS.SID, by, id });
}

/** What bob sends alice's phone, as queued: stamped (§2.5). */
function chat(attrs: Record<string, string | undefined> = {}, ...children: Element[]): Element {
  return xml(
    'message',
    { xmlns: NS.CLIENT, from: BOB, to: PHONE, id: 'm1', type: 'chat', ...attrs },
    xml('body', {}, 'hi'),
    delay(),
    ...children,
  );
}

function carbon(kind: 'sent' | 'received'): Element {
  return xml(
    'message',
    { xmlns: NS.CLIENT, from: ALICE, to: PHONE, id: 'c1', type: 'chat' },
    xml(kind, { xmlns: NS.CARBONS }, xml('forwarded', { xmlns: 'urn:xmpp:forward:0' }, chat())),
  );
}

function mamResult(ns: string = NS.MAM): Element {
  return xml(
    'message',
    { xmlns: NS.CLIENT, from: ALICE, to: PHONE, id: 'r1' },
    xml(
      'result',
      { xmlns: ns, queryid: 'q1', id: 'arch-1' },
      xml('forwarded', { xmlns: 'urn:xmpp:forward:0' }),
    ),
  );
}

function iq(type: string, attrs: Record<string, string | undefined> = {}): Element {
  return xml(
    'iq',
    { xmlns: NS.CLIENT, from: BOB, to: PHONE, id: 'i1', type, ...attrs },
    type === 'get' || type === 'set' ? xml('query', { xmlns: NS.DISCO_INFO }) : null,
  );
}

function presence(attrs: Record<string, string | undefined> = {}): Element {
  return xml(
    'presence',
    { xmlns: NS.CLIENT, from: BOB, to: PHONE, ...attrs },
    xml('show', {}, 'away'),
    delay(),
  );
}

interface Given {
  readonly policy?: UnackedMessagePolicy;
  readonly offlineEnabled?: boolean;
  /** Other bound resources of alice besides the terminating `phone`. */
  readonly others?: readonly string[];
  readonly issuedMamQuery?: boolean;
  readonly claimed?: readonly number[];
}

function given(stanzas: readonly Element[], options: Given = {}): OutcomeInput {
  return {
    session: {
      fullJid: PHONE,
      bareJid: ALICE,
      domain: DOMAIN,
      issuedMamQuery: options.issuedMamQuery ?? false,
    },
    boundResources: [PHONE, ...(options.others ?? [])],
    stanzas: stanzas.map((stanza, index) => ({ seq: index + 1, stanza })),
    policy: options.policy ?? 'offline',
    offlineEnabled: options.offlineEnabled ?? true,
    claimed: new Set(options.claimed ?? []),
  };
}

function decideOne(stanza: Element, options: Given = {}): Outcome {
  const [outcome, ...rest] = decideOutcomes(given([stanza], options));
  expect(rest).toHaveLength(0);
  if (outcome === undefined) throw new Error('no outcome');
  return outcome;
}

interface Row {
  readonly spec: string;
  readonly stanza: () => Element;
  readonly given?: Given;
  readonly rule: OutcomeRule;
  readonly action: OutcomeAction;
}

const archivedChat = (): Element => chat({}, stanzaId(ALICE));
const mam = { issuedMamQuery: true } as const;
const second = { others: [LAPTOP] } as const;
const noOffline = { offlineEnabled: false } as const;

const ROWS: Readonly<Record<string, Row>> = {
  // R0
  'claimed chat message': {
    spec: '§4 R0',
    stanza: chat,
    given: { claimed: [1] },
    rule: 'R0',
    action: 'claimed',
  },
  'claimed error (R0 before R1)': {
    spec: '§4 R0',
    stanza: () => chat({ type: 'error' }),
    given: { claimed: [1] },
    rule: 'R0',
    action: 'claimed',
  },
  'claimed iq get (R0 before R8)': {
    spec: '§4 R0',
    stanza: () => iq('get'),
    given: { claimed: [1] },
    rule: 'R0',
    action: 'claimed',
  },
  'unclaimed seq ignored': {
    spec: '§4 R0',
    stanza: chat,
    given: { claimed: [2] },
    rule: 'R7b',
    action: 'offline',
  },
  // R1
  'message error': { spec: '§4 R1', stanza: () => chat({ type: 'error' }), rule: 'R1', action: 'drop' },
  'message error, not last resource': {
    spec: '§4 R1',
    stanza: () => chat({ type: 'error' }),
    given: second,
    rule: 'R1',
    action: 'drop',
  },
  'presence error': { spec: '§4 R1', stanza: () => presence({ type: 'error' }), rule: 'R1', action: 'drop' },
  'iq error': { spec: '§4 R1', stanza: () => iq('error'), rule: 'R1', action: 'drop' },
  'error from own full JID (R1 before R2)': {
    spec: '§4 R1',
    stanza: () => chat({ type: 'error', from: PHONE }),
    rule: 'R1',
    action: 'drop',
  },
  // R2
  'message from own full JID': {
    spec: '§4 R2',
    stanza: () => chat({ from: PHONE }),
    given: second,
    rule: 'R2',
    action: 'drop',
  },
  'own presence reflected (R2 before R3)': {
    spec: '§4 R2',
    stanza: () => presence({ from: PHONE }),
    rule: 'R2',
    action: 'drop',
  },
  'iq get from own full JID': {
    spec: '§4 R2',
    stanza: () => iq('get', { from: PHONE }),
    rule: 'R2',
    action: 'drop',
  },
  'own full JID spelled differently': {
    spec: '§4 R2 (RFC 7622 prepared form)',
    stanza: () => iq('set', { from: 'Alice@EXAMPLE.com/phone' }),
    rule: 'R2',
    action: 'drop',
  },
  // R3
  'presence update (scenario 34)': { spec: '§4 R3, §8.34', stanza: presence, rule: 'R3', action: 'drop' },
  'presence subscribe': {
    spec: '§4 R3',
    stanza: () => presence({ type: 'subscribe' }),
    rule: 'R3',
    action: 'drop',
  },
  'presence, bounce policy': {
    spec: '§4 R3',
    stanza: presence,
    given: { policy: 'bounce' },
    rule: 'R3',
    action: 'drop',
  },
  // R4
  'iq result (scenario 35)': { spec: '§4 R4, §8.35', stanza: () => iq('result'), rule: 'R4', action: 'drop' },
  'iq result, bounce policy': {
    spec: '§4 R4',
    stanza: () => iq('result'),
    given: { policy: 'bounce' },
    rule: 'R4',
    action: 'drop',
  },
  // R5
  'received carbon': {
    spec: '§4 R5, XEP-0280',
    stanza: () => carbon('received'),
    rule: 'R5',
    action: 'drop',
  },
  'sent carbon': { spec: '§4 R5, XEP-0280', stanza: () => carbon('sent'), rule: 'R5', action: 'drop' },
  'received carbon, not last resource, bounce policy': {
    spec: '§4 R5',
    stanza: () => carbon('received'),
    given: { ...second, policy: 'bounce' },
    rule: 'R5',
    action: 'drop',
  },
  'carbons <private/> hint is not a carbon': {
    spec: '§4 R5 → R7b',
    stanza: () => chat({}, xml('private', { xmlns: NS.CARBONS })),
    rule: 'R7b',
    action: 'offline',
  },
  'sent in another namespace is not a carbon': {
    spec: '§4 R5 → R7c',
    stanza: () => chat({}, xml('sent', { xmlns: 'urn:xmpp:carbons:1' })),
    given: second,
    rule: 'R7c',
    action: 'bounce',
  },
  // R6
  'MAM result': { spec: '§4 R6', stanza: () => mamResult(), rule: 'R6', action: 'drop' },
  'MAM result, offline disabled, other resource': {
    spec: '§4 R6',
    stanza: () => mamResult(),
    given: { ...second, ...noOffline },
    rule: 'R6',
    action: 'drop',
  },
  'result in urn:xmpp:mam:1 is an ordinary message': {
    spec: '§4 R6 → R7b',
    stanza: () => mamResult('urn:xmpp:mam:1'),
    rule: 'R7b',
    action: 'offline',
  },
  // R7a
  'archived chat, MAM queried, other resource (scenario 32)': {
    spec: '§4 R7a, §8.32',
    stanza: archivedChat,
    given: { ...mam, ...second },
    rule: 'R7a',
    action: 'drop',
  },
  'archived chat, MAM queried, last resource (R7a before R7b)': {
    spec: '§4 R7a',
    stanza: archivedChat,
    given: mam,
    rule: 'R7a',
    action: 'drop',
  },
  'archived chat, by spelled differently': {
    spec: '§4 R7a',
    stanza: () => chat({}, stanzaId('ALICE@example.COM')),
    given: { ...mam, ...second },
    rule: 'R7a',
    action: 'drop',
  },
  'archived among several stanza-ids': {
    spec: '§4 R7a',
    stanza: () => chat({}, stanzaId(ROOM, 'room-1'), stanzaId(ALICE)),
    given: { ...mam, ...second },
    rule: 'R7a',
    action: 'drop',
  },
  'archived chat, no MAM query, other resource': {
    spec: '§4 R7a → R7c',
    stanza: archivedChat,
    given: second,
    rule: 'R7c',
    action: 'bounce',
  },
  'stanza-id by another archive': {
    spec: '§4 R7a → R7c',
    stanza: () => chat({}, stanzaId(ROOM)),
    given: { ...mam, ...second },
    rule: 'R7c',
    action: 'bounce',
  },
  'stanza-id in the wrong namespace': {
    spec: '§4 R7a → R7c',
    stanza: () => chat({}, xml('stanza-id', { xmlns: 'urn:xmpp:sid:1', by: ALICE })),
    given: { ...mam, ...second },
    rule: 'R7c',
    action: 'bounce',
  },
  // R7b
  'chat, last resource, expired (scenario 30)': {
    spec: '§4 R7b, §8.30',
    stanza: chat,
    rule: 'R7b',
    action: 'offline',
  },
  'chat, last resource, killed without resume (scenario 36)': {
    spec: '§4 R7b, §8.36',
    stanza: chat,
    rule: 'R7b',
    action: 'offline',
  },
  'chat, hibernating resource replaced by a bind (scenario 37, §7.9)': {
    spec: '§4 R7b, §8.37',
    stanza: chat,
    rule: 'R7b',
    action: 'offline',
  },
  'normal message, last resource': {
    spec: '§4 R7b',
    stanza: () => chat({ type: 'normal' }),
    rule: 'R7b',
    action: 'offline',
  },
  'untyped message, last resource': {
    spec: '§4 R7b',
    stanza: () => chat({ type: undefined }),
    rule: 'R7b',
    action: 'offline',
  },
  'unknown message type is normal': {
    spec: '§4 R7b, RFC 6121 §5.2.2',
    stanza: () => chat({ type: 'shout' }),
    rule: 'R7b',
    action: 'offline',
  },
  'archived chat, no MAM query, last resource': {
    spec: '§4 R7b',
    stanza: archivedChat,
    rule: 'R7b',
    action: 'offline',
  },
  'chat from the server, last resource': {
    spec: '§4 R7b (R9 only where it bounces)',
    stanza: () => chat({ from: DOMAIN, type: 'normal' }),
    rule: 'R7b',
    action: 'offline',
  },
  'chat without from, last resource': {
    spec: '§4 R7b',
    stanza: () => chat({ from: undefined }),
    rule: 'R7b',
    action: 'offline',
  },
  'hibernating other resource still counts': {
    spec: '§4 "last resource"',
    stanza: chat,
    given: { others: ['alice@example.com/tablet'] },
    rule: 'R7c',
    action: 'bounce',
  },
  'own JID listed twice is still the last resource': {
    spec: '§4 "last resource"',
    stanza: chat,
    given: { others: [PHONE, 'ALICE@example.com/phone'] },
    rule: 'R7b',
    action: 'offline',
  },
  'offline disabled, archived': {
    spec: '§4 R7b',
    stanza: archivedChat,
    given: noOffline,
    rule: 'R7b',
    action: 'drop',
  },
  'offline disabled, not archived': {
    spec: '§4 R7b',
    stanza: chat,
    given: noOffline,
    rule: 'R7b',
    action: 'bounce',
  },
  'offline disabled, stanza-id by another archive': {
    spec: '§4 R7b',
    stanza: () => chat({}, stanzaId(ROOM)),
    given: noOffline,
    rule: 'R7b',
    action: 'bounce',
  },
  'offline disabled, not archived, from bare JID': {
    spec: '§4 R7b → R9',
    stanza: () => chat({ from: ALICE }),
    given: noOffline,
    rule: 'R9',
    action: 'drop',
  },
  // R7c
  'chat, other resource online (scenario 31)': {
    spec: '§4 R7c, §8.31',
    stanza: chat,
    given: second,
    rule: 'R7c',
    action: 'bounce',
  },
  'normal, other resource': {
    spec: '§4 R7c',
    stanza: () => chat({ type: 'normal' }),
    given: second,
    rule: 'R7c',
    action: 'bounce',
  },
  'chat, other resource, no from': {
    spec: '§4 R7c → R9',
    stanza: () => chat({ from: undefined }),
    given: second,
    rule: 'R9',
    action: 'drop',
  },
  'chat, other resource, empty from': {
    spec: '§4 R7c → R9',
    stanza: () => chat({ from: '' }),
    given: second,
    rule: 'R9',
    action: 'drop',
  },
  'chat, other resource, from another own resource': {
    spec: '§4 R7c (only the bare JID is R9)',
    stanza: () => chat({ from: LAPTOP }),
    given: second,
    rule: 'R7c',
    action: 'bounce',
  },
  // R8
  'iq get (scenario 33)': { spec: '§4 R8, §8.33', stanza: () => iq('get'), rule: 'R8', action: 'bounce' },
  'iq set': { spec: '§4 R8', stanza: () => iq('set'), rule: 'R8', action: 'bounce' },
  groupchat: {
    spec: '§4 R8',
    stanza: () => chat({ type: 'groupchat', from: `${ROOM}/bob` }),
    rule: 'R8',
    action: 'bounce',
  },
  headline: { spec: '§4 R8', stanza: () => chat({ type: 'headline' }), rule: 'R8', action: 'bounce' },
  'archived groupchat, MAM queried': {
    spec: '§4 R8 (R7a is for chat/normal only)',
    stanza: () => chat({ type: 'groupchat', from: `${ROOM}/bob` }, stanzaId(ALICE)),
    given: mam,
    rule: 'R8',
    action: 'bounce',
  },
  // R9
  'iq get without from': {
    spec: '§4 R8 → R9',
    stanza: () => iq('get', { from: undefined }),
    rule: 'R9',
    action: 'drop',
  },
  'roster push from the bare JID': {
    spec: '§4 R8 → R9',
    stanza: () => iq('set', { from: ALICE }),
    rule: 'R9',
    action: 'drop',
  },
  'own PEP headline from the bare JID': {
    spec: '§4 R8 → R9',
    stanza: () => chat({ type: 'headline', from: ALICE }),
    rule: 'R9',
    action: 'drop',
  },
  'iq get from the server domain': {
    spec: '§4 R8 → R9',
    stanza: () => iq('get', { from: DOMAIN }),
    rule: 'R9',
    action: 'drop',
  },
  'headline from the domain spelled differently': {
    spec: '§4 R8 → R9',
    stanza: () => chat({ type: 'headline', from: 'Example.COM.' }),
    rule: 'R9',
    action: 'drop',
  },
  'groupchat from a server component is not the domain': {
    spec: '§4 R8',
    stanza: () => chat({ type: 'groupchat', from: 'muc.example.com' }),
    rule: 'R8',
    action: 'bounce',
  },
  'from that is not a JID is bounced to as written': {
    spec: '§4 R8',
    stanza: () => iq('get', { from: 'bad@@jid' }),
    rule: 'R8',
    action: 'bounce',
  },
  // policy noerror
  'noerror: chat, other resource': {
    spec: '§4 noerror (R7c)',
    stanza: chat,
    given: { ...second, policy: 'noerror' },
    rule: 'R7c',
    action: 'drop',
  },
  'noerror: chat, last resource, offline disabled': {
    spec: '§4 noerror (R7b)',
    stanza: chat,
    given: { ...noOffline, policy: 'noerror' },
    rule: 'R7b',
    action: 'drop',
  },
  'noerror: chat, last resource, offline enabled': {
    spec: '§4 noerror (R7b)',
    stanza: chat,
    given: { policy: 'noerror' },
    rule: 'R7b',
    action: 'offline',
  },
  'noerror: archived chat, MAM queried': {
    spec: '§4 noerror (R7a)',
    stanza: archivedChat,
    given: { ...mam, ...second, policy: 'noerror' },
    rule: 'R7a',
    action: 'drop',
  },
  'noerror: chat without from, other resource': {
    spec: '§4 noerror (R7c; nothing bounces, so no R9)',
    stanza: () => chat({ from: undefined }),
    given: { ...second, policy: 'noerror' },
    rule: 'R7c',
    action: 'drop',
  },
  'noerror: iq get still bounces': {
    spec: '§4 noerror, R8',
    stanza: () => iq('get'),
    given: { policy: 'noerror' },
    rule: 'R8',
    action: 'bounce',
  },
  'noerror: groupchat still bounces': {
    spec: '§4 noerror, R8',
    stanza: () => chat({ type: 'groupchat', from: `${ROOM}/bob` }),
    given: { policy: 'noerror' },
    rule: 'R8',
    action: 'bounce',
  },
  'noerror: headline from the domain': {
    spec: '§4 noerror, R8 → R9',
    stanza: () => chat({ type: 'headline', from: DOMAIN }),
    given: { policy: 'noerror' },
    rule: 'R9',
    action: 'drop',
  },
  // policy bounce
  'bounce: chat, last resource, offline enabled': {
    spec: '§4 bounce (R7a-b skipped → R7c)',
    stanza: chat,
    given: { policy: 'bounce' },
    rule: 'R7c',
    action: 'bounce',
  },
  'bounce: archived chat, MAM queried': {
    spec: '§4 bounce (R7a skipped → R7c)',
    stanza: archivedChat,
    given: { ...mam, policy: 'bounce' },
    rule: 'R7c',
    action: 'bounce',
  },
  'bounce: archived chat, offline disabled': {
    spec: '§4 bounce (R7b skipped → R7c)',
    stanza: archivedChat,
    given: { ...noOffline, policy: 'bounce' },
    rule: 'R7c',
    action: 'bounce',
  },
  'bounce: chat from the bare JID': {
    spec: '§4 bounce → R9',
    stanza: () => chat({ from: ALICE }),
    given: { policy: 'bounce' },
    rule: 'R9',
    action: 'drop',
  },
  'bounce: untyped message from the domain': {
    spec: '§4 bounce → R9',
    stanza: () => chat({ from: DOMAIN, type: undefined }),
    given: { policy: 'bounce' },
    rule: 'R9',
    action: 'drop',
  },
  'bounce: iq get': {
    spec: '§4 bounce, R8',
    stanza: () => iq('get'),
    given: { policy: 'bounce' },
    rule: 'R8',
    action: 'bounce',
  },
};

describe('decideOutcomes: one rule per stanza (§4, first match wins)', () => {
  it.each(Object.entries(ROWS))('%s', (_name, row) => {
    const outcome = decideOne(row.stanza(), row.given);
    expect({ rule: outcome.rule, action: outcome.action }).toEqual({ rule: row.rule, action: row.action });
    // Only offline and bounce carry a stanza to route.
    expect(outcome.stanza !== undefined).toBe(row.action === 'offline' || row.action === 'bounce');
    // Every outcome is a valid sm.unacked_outcome payload (§6).
    expect(
      SmUnackedOutcome.schema.safeParse({
        session: 'session-0001',
        stanzaId: outcome.stanzaId,
        rule: outcome.rule,
        action: outcome.action,
      }).success,
    ).toBe(true);
  });

  it('§4 R0: a claim beats every other rule, whatever the policy', () => {
    const stanzas = Object.values(ROWS).map((row) => row.stanza());
    const claimed = stanzas.map((_stanza, index) => index + 1);
    for (const policy of ['offline', 'noerror', 'bounce'] as const) {
      const outcomes = decideOutcomes(given(stanzas, { policy, claimed, ...mam, ...second }));
      expect(outcomes.map((outcome) => `${outcome.rule}/${outcome.action}`)).toEqual(
        stanzas.map(() => 'R0/claimed'),
      );
      expect(outcomes.every((outcome) => outcome.stanza === undefined)).toBe(true);
    }
  });
});

describe('decideOutcomes: the bounce (§4)', () => {
  it('§4, §8.31: an error reply from the server, type wait recipient-unavailable by the bare JID, same id, no payload', () => {
    const outcome = decideOne(chat({ id: 'abc' }), second);
    expect(outcome.action).toBe('bounce');
    expect(outcome.stanza?.toString()).toBe(
      `<message xmlns="jabber:client" from="${PHONE}" to="${BOB}" id="abc" type="error">` +
        `<error type="wait" by="${ALICE}"><recipient-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>` +
        '</message>',
    );
  });

  it('§4, §8.33: an iq get bounces as an iq error with the same id and no query child', () => {
    const reply = decideOne(iq('get', { id: 'disco-7' })).stanza;
    expect(reply?.getName()).toBe('iq');
    expect(reply?.attrs).toEqual({ xmlns: NS.CLIENT, from: PHONE, to: BOB, id: 'disco-7', type: 'error' });
    expect(reply?.getChildElements().map((child) => child.getName())).toEqual(['error']);
    const error = reply?.getChild('error');
    expect(error?.attrs).toEqual({ type: 'wait', by: ALICE });
    expect(error?.getChildElements().map((child) => `${child.getName()} ${child.getNS() ?? ''}`)).toEqual([
      `recipient-unavailable ${NS.STANZA_ERROR}`,
    ]);
  });

  it('§4: to = S.from and from = S.to as written (a groupchat goes back to the occupant)', () => {
    const reply = decideOne(
      chat({ type: 'groupchat', from: `${ROOM}/Bob`, to: 'Alice@example.com/phone' }),
    ).stanza;
    expect(reply?.attrs.to).toBe(`${ROOM}/Bob`);
    expect(reply?.attrs.from).toBe('Alice@example.com/phone');
    expect(reply?.attrs.type).toBe('error');
  });

  it('§4: a bounce drops the delay stamp and payload of the queued copy', () => {
    const reply = decideOne(chat({}, stanzaId(ROOM)), second).stanza;
    expect(reply?.getChild('delay', NS.DELAY)).toBeUndefined();
    expect(reply?.getChild('body')).toBeUndefined();
    expect(reply?.getChild('stanza-id', NS.SID)).toBeUndefined();
  });

  it.each([undefined, ''])('a stanza with to=%j bounces from the session full JID', (to) => {
    const reply = decideOne(iq('set', { to })).stanza;
    expect(reply?.attrs.from).toBe(PHONE);
    expect(reply?.attrs.to).toBe(BOB);
  });

  it('a stanza without id bounces without id and reports no stanzaId', () => {
    const outcome = decideOne(iq('get', { id: undefined }));
    expect(outcome.action).toBe('bounce');
    expect(outcome.stanza?.attrs.id).toBeUndefined();
    expect('stanzaId' in outcome).toBe(false);
  });
});

describe('decideOutcomes: the offline copy (§4 R7b, §2.5)', () => {
  it('§8.30: keeps its original delay stamp and payload, is a copy, and leaves the input untouched', () => {
    const original = chat({}, stanzaId(ALICE));
    const before = original.toString();
    const outcome = decideOne(original);
    expect(outcome.action).toBe('offline');
    expect(outcome.stanza).not.toBe(original);
    expect(outcome.stanza?.toString()).toBe(before);
    expect(outcome.stanza?.getChild('delay', NS.DELAY)?.attrs).toEqual({
      xmlns: NS.DELAY,
      from: ALICE,
      stamp: STAMP,
    });
    outcome.stanza?.getChild('body')?.t(' changed');
    expect(original.toString()).toBe(before);
  });

  it('§7.12: a stamp from elsewhere (offline replay, MUC history) is kept as it was', () => {
    const replayed = xml(
      'message',
      { xmlns: NS.CLIENT, from: BOB, to: PHONE, id: 'old', type: 'chat' },
      xml('body', {}, 'from yesterday'),
      delay('2024-12-31T23:59:59Z', DOMAIN),
    );
    const outcome = decideOne(replayed);
    expect(outcome.stanza?.getChildren('delay', NS.DELAY).map((d) => d.attrs)).toEqual([
      { xmlns: NS.DELAY, from: DOMAIN, stamp: '2024-12-31T23:59:59Z' },
    ]);
  });
});

describe('decideOutcomes: the queue (§4 "runs once, in queue order")', () => {
  it('§8.29, §8.45: six chat messages to the only resource all go offline, in order, nobody gets an error', () => {
    const stanzas = [1, 2, 3, 4, 5, 6].map((n) =>
      chat({ id: `m${n}` }, delay(`2025-01-02T03:04:0${n}.000Z`)),
    );
    const outcomes = decideOutcomes(given(stanzas));
    expect(outcomes.map((o) => [o.seq, o.stanzaId, o.rule, o.action])).toEqual(
      [1, 2, 3, 4, 5, 6].map((n) => [n, `m${n}`, 'R7b', 'offline']),
    );
    expect(outcomes.map((o) => o.stanza?.attrs.id)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
  });

  it('§4: a mixed queue keeps its order and each stanza meets its own rule', () => {
    const input: OutcomeInput = {
      ...given([]),
      boundResources: [LAPTOP, PHONE],
      session: { fullJid: PHONE, bareJid: ALICE, domain: DOMAIN, issuedMamQuery: true },
      stanzas: [
        { seq: 40, stanza: presence() },
        { seq: 41, stanza: chat({ id: 'a' }) },
        { seq: 42, stanza: iq('result') },
        { seq: 43, stanza: archivedChat() },
        { seq: 44, stanza: iq('get', { id: 'b' }) },
        { seq: 45, stanza: carbon('sent') },
        { seq: 46, stanza: iq('set', { from: ALICE }) },
        { seq: 47, stanza: chat({ id: 'c' }) },
      ],
      claimed: new Set([47]),
    };
    expect(decideOutcomes(input).map((o) => [o.seq, o.rule, o.action, o.stanza?.attrs.id])).toEqual([
      [40, 'R3', 'drop', undefined],
      [41, 'R7c', 'bounce', 'a'],
      [42, 'R4', 'drop', undefined],
      [43, 'R7a', 'drop', undefined],
      [44, 'R8', 'bounce', 'b'],
      [45, 'R5', 'drop', undefined],
      [46, 'R9', 'drop', undefined],
      [47, 'R0', 'claimed', undefined],
    ]);
  });

  it('an empty queue has no outcomes', () => {
    expect(decideOutcomes(given([]))).toEqual([]);
  });

  it('§6: stanzaId is the id attribute; an empty id is not reported', () => {
    const outcomes = decideOutcomes(given([chat({ id: 'x1' }), chat({ id: '' }), chat({ id: undefined })]));
    expect(outcomes.map((o) => o.stanzaId)).toEqual(['x1', undefined, undefined]);
    expect(outcomes.map((o) => 'stanzaId' in o)).toEqual([true, false, false]);
  });

  it('is deterministic: the same input gives the same outcomes', () => {
    const input = given([chat(), iq('get'), presence()], second);
    const serialise = (outcomes: Outcome[]): string =>
      JSON.stringify(outcomes.map((o) => ({ ...o, stanza: o.stanza?.toString() })));
    expect(serialise(decideOutcomes(input))).toBe(serialise(decideOutcomes(input)));
  });
});

describe("hasOwnStanzaId: archived by the user's own archive (R7a, R7b)", () => {
  it('matches a stanza-id by the bare JID, in prepared form, among others', () => {
    expect(hasOwnStanzaId(chat({}, stanzaId(ROOM), stanzaId(ALICE)), ALICE)).toBe(true);
    expect(hasOwnStanzaId(chat({}, stanzaId('ALICE@Example.COM')), 'alice@EXAMPLE.com')).toBe(true);
  });

  it("does not match another archive's, a full JID's, another namespace's, or none", () => {
    expect(hasOwnStanzaId(chat({}, stanzaId(ROOM)), ALICE)).toBe(false);
    expect(hasOwnStanzaId(chat({}, stanzaId(PHONE)), ALICE)).toBe(false);
    expect(
      hasOwnStanzaId(chat({}, xml('stanza-id', { xmlns: 'urn:xmpp:sid:1', by: ALICE, id: 'x' })), ALICE),
    ).toBe(false);
    expect(hasOwnStanzaId(chat(), ALICE)).toBe(false);
  });
});

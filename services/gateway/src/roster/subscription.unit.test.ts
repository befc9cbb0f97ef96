import { serialize, xml, type Element } from '@holdfast/xmpp';
import { describe, expect, it } from 'vitest';

import {
  SUBSCRIPTION_STATES,
  newRosterItem,
  subscriptionState,
  withState,
  type RosterEffect,
  type RosterItem,
  type SubscriptionState,
} from './model.js';
import { decideRosterSet } from './roster-set.js';
import type { SubscriptionType } from './stanzas.js';
import {
  decideSubscription,
  pendingSubscriptionRequests,
  type SubscriptionCommand,
  type SubscriptionDecision,
} from './subscription.js';

const ALICE = 'alice@home.example';
const BOB = 'bob@away.example';

/** Alice's item for Bob in `state`, as a roster item she added. */
function item(state: SubscriptionState, extra: Partial<RosterItem> = {}): RosterItem {
  return withState({ ...newRosterItem(ALICE, BOB), ...extra }, state);
}

function command(
  direction: SubscriptionCommand['direction'],
  type: SubscriptionType,
  stanza?: Element,
): SubscriptionCommand {
  return { direction, type, user: ALICE, contact: BOB, stanza };
}

function effectsOf<K extends RosterEffect['kind']>(
  decision: SubscriptionDecision,
  kind: K,
): Extract<RosterEffect, { kind: K }>[] {
  return decision.effects.filter(
    (effect): effect is Extract<RosterEffect, { kind: K }> => effect.kind === kind,
  );
}

/** One row of an Appendix A table: existing state, routed/delivered, new state (null: no state change). */
type Row = readonly [SubscriptionState, boolean, SubscriptionState | null];

function checkRow(
  direction: SubscriptionCommand['direction'],
  type: SubscriptionType,
  [before, forwarded, after]: Row,
): void {
  const decision = decideSubscription(item(before), command(direction, type), { preApproval: false });
  expect(decision.before).toBe(before);
  expect(decision.after).toBe(after ?? before);
  const forwardKind = direction === 'outbound' ? 'route' : 'deliver-to-user';
  const forwardedStanzas = effectsOf(decision, forwardKind);
  expect(forwardedStanzas).toHaveLength(forwarded ? 1 : 0);
  for (const effect of forwardedStanzas) {
    expect(effect.stanza.attrs).toMatchObject(
      direction === 'outbound' ? { from: ALICE, to: BOB, type } : { from: BOB, to: ALICE, type },
    );
  }
  if (after === null) {
    expect(decision.change).toEqual({ kind: 'unchanged' });
    expect(effectsOf(decision, 'push')).toEqual([]);
  } else {
    expect(decision.change.kind).toBe('put');
    // Listed items: every state change that the client can see is pushed (§2.1.6); Pending In is not.
    const visible =
      subscriptionState({ ...item(before), pendingIn: false }) !==
      subscriptionState({ ...item(after), pendingIn: false });
    expect(effectsOf(decision, 'push')).toHaveLength(visible ? 1 : 0);
  }
}

describe('RFC 6121 Appendix A.2: outbound subscription stanzas from the user', () => {
  // A.2.1 Table 1 ("subscribed"), rows 1-9. Pre-approval (§3.4) off: the table as printed.
  const subscribed: readonly Row[] = [
    ['None', false, null],
    ['None + Pending Out', false, null],
    ['None + Pending In', true, 'From'],
    ['None + Pending Out+In', true, 'From + Pending Out'],
    ['To', false, null],
    ['To + Pending In', true, 'Both'],
    ['From', false, null],
    ['From + Pending Out', false, null],
    ['Both', false, null],
  ];
  it.each(subscribed.map((row, index) => [index + 1, ...row] as const))(
    'A.2.1 row %i: %s, subscribed → routed %s, %s',
    (_row, ...row) => {
      checkRow('outbound', 'subscribed', row);
    },
  );

  // A.2.2 Table 2 ("unsubscribed"), rows 1-9.
  const unsubscribed: readonly Row[] = [
    ['None', false, null],
    ['None + Pending Out', false, null],
    ['None + Pending In', true, 'None'],
    ['None + Pending Out+In', true, 'None + Pending Out'],
    ['To', false, null],
    ['To + Pending In', true, 'To'],
    ['From', true, 'None'],
    ['From + Pending Out', true, 'None + Pending Out'],
    ['Both', true, 'To'],
  ];
  it.each(unsubscribed.map((row, index) => [index + 1, ...row] as const))(
    'A.2.2 row %i: %s, unsubscribed → routed %s, %s',
    (_row, ...row) => {
      checkRow('outbound', 'unsubscribed', row);
    },
  );

  // A.2 preamble: "subscribe" and "unsubscribe" are routed without exception; state per §3.1.2 and §3.3.2.
  const subscribe: readonly Row[] = [
    ['None', true, 'None + Pending Out'],
    ['None + Pending Out', true, null],
    ['None + Pending In', true, 'None + Pending Out+In'],
    ['None + Pending Out+In', true, null],
    ['To', true, null],
    ['To + Pending In', true, null],
    ['From', true, 'From + Pending Out'],
    ['From + Pending Out', true, null],
    ['Both', true, null],
  ];
  it.each(subscribe)('§3.1.2: %s, subscribe → routed %s, %s', (...row) => {
    checkRow('outbound', 'subscribe', row);
  });

  const unsubscribe: readonly Row[] = [
    ['None', true, null],
    ['None + Pending Out', true, 'None'],
    ['None + Pending In', true, null],
    ['None + Pending Out+In', true, 'None + Pending In'],
    ['To', true, 'None'],
    ['To + Pending In', true, 'None + Pending In'],
    ['From', true, null],
    ['From + Pending Out', true, 'From'],
    ['Both', true, 'From'],
  ];
  it.each(unsubscribe)('§3.3.2: %s, unsubscribe → routed %s, %s', (...row) => {
    checkRow('outbound', 'unsubscribe', row);
  });

  it('§3.1.5: approving sends the user’s presence to the contact; §3.2.2: cancelling sends unavailable', () => {
    const approve = decideSubscription(item('None + Pending In'), command('outbound', 'subscribed'));
    expect(effectsOf(approve, 'send-presence-of-user')).toEqual([{ kind: 'send-presence-of-user', to: BOB }]);
    const cancel = decideSubscription(item('Both'), command('outbound', 'unsubscribed'));
    expect(effectsOf(cancel, 'send-unavailable-of-user')).toEqual([
      { kind: 'send-unavailable-of-user', to: BOB },
    ]);
    const deny = decideSubscription(item('None + Pending In'), command('outbound', 'unsubscribed'));
    expect(effectsOf(deny, 'send-unavailable-of-user')).toEqual([]);
  });

  it('§3.1.2: stamps the bare JIDs and keeps id, xml:lang and payload of what the user sent', () => {
    const sent = xml(
      'presence',
      {
        xmlns: 'jabber:client',
        from: `${ALICE}/phone`,
        to: `${BOB}/desk`,
        type: 'subscribe',
        id: 's1',
        'xml:lang': 'en',
      },
      xml('status', null, 'hi, it is Alice'),
      xml('nick', { xmlns: 'http://jabber.org/protocol/nick' }, 'Al'),
    );
    const decision = decideSubscription(undefined, command('outbound', 'subscribe', sent));
    const [route] = effectsOf(decision, 'route');
    expect(route && serialize(route.stanza)).toBe(
      `<presence xmlns="jabber:client" from="${ALICE}" to="${BOB}" type="subscribe" id="s1" xml:lang="en">` +
        '<status>hi, it is Alice</status><nick xmlns="http://jabber.org/protocol/nick">Al</nick></presence>',
    );
    // The original is left alone.
    expect(sent.attrs.from).toBe(`${ALICE}/phone`);
    expect(sent.getChildren('status')).toHaveLength(1);
  });

  it('§3.1.2: a contact not in the roster is added with ask=subscribe and pushed', () => {
    const decision = decideSubscription(undefined, command('outbound', 'subscribe'));
    const added = { ...newRosterItem(ALICE, BOB), ask: 'subscribe' as const };
    expect(decision.change).toEqual({ kind: 'put', item: added });
    expect(effectsOf(decision, 'push')).toEqual([{ kind: 'push', item: added }]);
  });

  it('A.2.2 "None": unsubscribed for a contact not in the roster changes nothing and is not routed', () => {
    const decision = decideSubscription(undefined, command('outbound', 'unsubscribed'));
    expect(decision).toMatchObject({
      before: 'None',
      after: 'None',
      change: { kind: 'unchanged' },
      effects: [],
    });
  });
});

describe('RFC 6121 Appendix A.3: inbound subscription stanzas from the contact', () => {
  // A.3.1 Table 3 ("subscribe"), rows 1-9; the "no *" rows are auto-replied (checked below).
  const subscribe: readonly Row[] = [
    ['None', true, 'None + Pending In'],
    ['None + Pending Out', true, 'None + Pending Out+In'],
    ['None + Pending In', false, null],
    ['None + Pending Out+In', false, null],
    ['To', true, 'To + Pending In'],
    ['To + Pending In', false, null],
    ['From', false, null],
    ['From + Pending Out', false, null],
    ['Both', false, null],
  ];
  it.each(subscribe.map((row, index) => [index + 1, ...row] as const))(
    'A.3.1 row %i: %s, subscribe → delivered %s, %s',
    (_row, ...row) => {
      checkRow('inbound', 'subscribe', row);
    },
  );

  it.each(['From', 'From + Pending Out', 'Both'] as const)(
    'A.3.1 "no *" (%s): auto-replies subscribed from the user’s bare JID, and sends presence',
    (state) => {
      const decision = decideSubscription(item(state), command('inbound', 'subscribe'));
      expect(decision.effects.map((effect) => effect.kind)).toEqual(['auto-reply', 'send-presence-of-user']);
      const [reply] = effectsOf(decision, 'auto-reply');
      expect(reply && serialize(reply.stanza)).toBe(
        `<presence xmlns="jabber:client" from="${ALICE}" to="${BOB}" type="subscribed"/>`,
      );
    },
  );

  it.each(['None', 'None + Pending Out', 'To', 'None + Pending In', 'To + Pending In'] as const)(
    'A.3.1 (%s): no auto-reply where the contact has no subscription',
    (state) => {
      const decision = decideSubscription(item(state), command('inbound', 'subscribe'));
      expect(effectsOf(decision, 'auto-reply')).toEqual([]);
    },
  );

  // A.3.2 Table 4 ("unsubscribe"), rows 1-9.
  const unsubscribe: readonly Row[] = [
    ['None', false, null],
    ['None + Pending Out', false, null],
    ['None + Pending In', true, 'None'],
    ['None + Pending Out+In', true, 'None + Pending Out'],
    ['To', false, null],
    ['To + Pending In', true, 'To'],
    ['From', true, 'None'],
    ['From + Pending Out', true, 'None + Pending Out'],
    ['Both', true, 'To'],
  ];
  it.each(unsubscribe.map((row, index) => [index + 1, ...row] as const))(
    'A.3.2 row %i: %s, unsubscribe → delivered %s, %s',
    (_row, ...row) => {
      checkRow('inbound', 'unsubscribe', row);
    },
  );

  it('§3.3.3: an unsubscribe that ends the contact’s subscription sends it the user’s unavailable presence', () => {
    for (const state of ['From', 'From + Pending Out', 'Both'] as const) {
      const decision = decideSubscription(item(state), command('inbound', 'unsubscribe'));
      expect(effectsOf(decision, 'send-unavailable-of-user')).toEqual([
        { kind: 'send-unavailable-of-user', to: BOB },
      ]);
    }
    const withdrawn = decideSubscription(item('None + Pending In'), command('inbound', 'unsubscribe'));
    expect(effectsOf(withdrawn, 'send-unavailable-of-user')).toEqual([]);
  });

  // A.3.3 Table 5 ("subscribed"), rows 1-9.
  const subscribed: readonly Row[] = [
    ['None', false, null],
    ['None + Pending Out', true, 'To'],
    ['None + Pending In', false, null],
    ['None + Pending Out+In', true, 'To + Pending In'],
    ['To', false, null],
    ['To + Pending In', false, null],
    ['From', false, null],
    ['From + Pending Out', true, 'Both'],
    ['Both', false, null],
  ];
  it.each(subscribed.map((row, index) => [index + 1, ...row] as const))(
    'A.3.3 row %i: %s, subscribed → delivered %s, %s',
    (_row, ...row) => {
      checkRow('inbound', 'subscribed', row);
    },
  );

  // A.3.4 Table 6 ("unsubscribed"), rows 1-9.
  const unsubscribed: readonly Row[] = [
    ['None', false, null],
    ['None + Pending Out', true, 'None'],
    ['None + Pending In', false, null],
    ['None + Pending Out+In', true, 'None + Pending In'],
    ['To', true, 'None'],
    ['To + Pending In', true, 'None + Pending In'],
    ['From', false, null],
    ['From + Pending Out', true, 'From'],
    ['Both', true, 'From'],
  ];
  it.each(unsubscribed.map((row, index) => [index + 1, ...row] as const))(
    'A.3.4 row %i: %s, unsubscribed → delivered %s, %s',
    (_row, ...row) => {
      checkRow('inbound', 'unsubscribed', row);
    },
  );

  it('§3.1.3: a request from someone not in the roster is kept unlisted with its status, and not pushed', () => {
    const request = xml(
      'presence',
      { xmlns: 'jabber:client', from: BOB, to: ALICE, type: 'subscribe', id: 'r1' },
      xml('status', null, 'Bob from the conference'),
    );
    const decision = decideSubscription(undefined, command('inbound', 'subscribe', request));
    expect(decision.change).toEqual({
      kind: 'put',
      item: {
        owner: ALICE,
        jid: BOB,
        groups: [],
        subscription: 'none',
        pendingIn: true,
        pendingInStatus: 'Bob from the conference',
        listed: false,
      },
    });
    expect(decision.effects.map((effect) => effect.kind)).toEqual(['deliver-to-user']);
    const [deliver] = effectsOf(decision, 'deliver-to-user');
    expect(deliver && serialize(deliver.stanza)).toBe(
      `<presence xmlns="jabber:client" from="${BOB}" to="${ALICE}" type="subscribe" id="r1">` +
        '<status>Bob from the conference</status></presence>',
    );
  });

  it('§3.1.3: the stored request does not change when the contact asks again', () => {
    const pending = { ...item('None + Pending In'), pendingInStatus: 'first' };
    const again = xml('presence', { type: 'subscribe' }, xml('status', null, 'second'));
    const decision = decideSubscription(pending, command('inbound', 'subscribe', again));
    expect(decision).toMatchObject({ change: { kind: 'unchanged' }, effects: [] });
  });

  it('A.3.2, A.2.2: a withdrawn or denied request from someone not in the roster leaves nothing behind', () => {
    const unlisted = { ...item('None + Pending In'), listed: false };
    for (const [direction, type] of [
      ['inbound', 'unsubscribe'],
      ['outbound', 'unsubscribed'],
    ] as const) {
      const decision = decideSubscription(unlisted, command(direction, type));
      expect(decision.change).toEqual({ kind: 'delete' });
      expect(decision.after).toBe('None');
      expect(effectsOf(decision, 'push')).toEqual([]);
    }
  });

  it('§3.1.5: approving a request from someone not in the roster adds them with subscription from', () => {
    const unlisted = { ...item('None + Pending In'), listed: false, pendingInStatus: 'hi' };
    const decision = decideSubscription(unlisted, command('outbound', 'subscribed'));
    const added = { ...newRosterItem(ALICE, BOB), subscription: 'from' as const };
    expect(decision.change).toEqual({ kind: 'put', item: added });
    expect(decision.effects.map((effect) => effect.kind)).toEqual(['route', 'send-presence-of-user', 'push']);
  });
});

describe('RFC 6121 §3.4 pre-approval', () => {
  it('records a subscribed without a request, routes nothing, pushes approved', () => {
    const decision = decideSubscription(undefined, command('outbound', 'subscribed'));
    const approved = { ...newRosterItem(ALICE, BOB), approved: true };
    expect(decision.change).toEqual({ kind: 'put', item: approved });
    expect(decision.effects).toEqual([{ kind: 'push', item: approved }]);
    expect(decision.after).toBe('None');
  });

  it.each([
    ['None', 'From'],
    ['None + Pending Out', 'From + Pending Out'],
    ['To', 'Both'],
  ] as const)('approves a later subscribe from %s to %s without asking the user', (before, after) => {
    const decision = decideSubscription(item(before, { approved: true }), command('inbound', 'subscribe'));
    expect(decision.after).toBe(after);
    expect(decision.effects.map((effect) => effect.kind)).toEqual([
      'auto-reply',
      'send-presence-of-user',
      'push',
    ]);
    expect(decision.change.kind === 'put' && decision.change.item.approved).toBe(undefined);
  });

  it('is cancelled by unsubscribed, which is not routed', () => {
    const decision = decideSubscription(
      item('None', { approved: true }),
      command('outbound', 'unsubscribed'),
    );
    expect(decision.change).toEqual({ kind: 'put', item: item('None') });
    expect(decision.effects).toEqual([{ kind: 'push', item: item('None') }]);
  });

  it('is not recorded twice, and not at all when switched off', () => {
    const twice = decideSubscription(item('None', { approved: true }), command('outbound', 'subscribed'));
    expect(twice).toMatchObject({ change: { kind: 'unchanged' }, effects: [] });
    const off = decideSubscription(item('To'), command('outbound', 'subscribed'), { preApproval: false });
    expect(off).toMatchObject({ change: { kind: 'unchanged' }, effects: [] });
  });
});

/**
 * Two users on two servers: each server decides on its own roster, and routed stanzas arrive at the other
 * as inbound commands, in order. Bounded: a loop between the servers fails the test.
 */
class World {
  private readonly rosters = new Map<string, Map<string, RosterItem>>();
  readonly delivered: { owner: string; type: string | undefined; from: string | undefined }[] = [];
  readonly pushes: { owner: string; jid: string; subscription: string }[] = [];
  readonly presence: { owner: string; kind: string; to: string }[] = [];

  item(owner: string, contact: string): RosterItem | undefined {
    return this.rosters.get(owner)?.get(contact);
  }

  state(owner: string, contact: string): SubscriptionState {
    return subscriptionState(this.item(owner, contact));
  }

  items(owner: string): RosterItem[] {
    return [...(this.rosters.get(owner)?.values() ?? [])];
  }

  send(user: string, type: SubscriptionType, contact: string, stanza?: Element): void {
    this.run([{ direction: 'outbound', type, user, contact, stanza }]);
  }

  /** Loses the item without telling anyone, as a server restored from an old backup would. */
  forget(owner: string, contact: string): void {
    this.rosters.get(owner)?.delete(contact);
  }

  removeFromRoster(user: string, contact: string): void {
    const decision = decideRosterSet({ kind: 'remove', jid: contact }, this.item(user, contact), {
      user,
      itemCount: this.items(user).length,
    });
    this.apply(user, contact, decision.change);
    this.run(this.carryOut(user, decision.effects));
  }

  private run(initial: SubscriptionCommand[]): void {
    const queue = [...initial];
    for (let hops = 0; queue.length > 0; hops++) {
      if (hops > 20) throw new Error('subscription stanzas loop between the servers');
      const next = queue.shift() as SubscriptionCommand;
      const decision = decideSubscription(this.item(next.user, next.contact), next);
      this.apply(next.user, next.contact, decision.change);
      queue.push(...this.carryOut(next.user, decision.effects));
    }
  }

  private apply(owner: string, contact: string, change: SubscriptionDecision['change']): void {
    let roster = this.rosters.get(owner);
    if (roster === undefined) this.rosters.set(owner, (roster = new Map<string, RosterItem>()));
    if (change.kind === 'put') roster.set(contact, change.item);
    if (change.kind === 'delete') roster.delete(contact);
  }

  private carryOut(owner: string, effects: readonly RosterEffect[]): SubscriptionCommand[] {
    const routed: SubscriptionCommand[] = [];
    for (const effect of effects) {
      switch (effect.kind) {
        case 'route':
        case 'auto-reply': {
          const { to, from, type } = effect.stanza.attrs;
          expect(from).toBe(owner);
          routed.push({
            direction: 'inbound',
            type: type as SubscriptionType,
            user: to as string,
            contact: owner,
            stanza: effect.stanza,
          });
          break;
        }
        case 'deliver-to-user':
          this.delivered.push({ owner, type: effect.stanza.attrs.type, from: effect.stanza.attrs.from });
          break;
        case 'push':
          this.pushes.push({ owner, jid: effect.item.jid, subscription: effect.item.subscription });
          break;
        case 'send-presence-of-user':
        case 'send-unavailable-of-user':
          this.presence.push({ owner, kind: effect.kind, to: effect.to });
          break;
      }
    }
    return routed;
  }
}

describe('RFC 6121 §3 flows between two users', () => {
  const JULIET = 'juliet@capulet.example';
  const ROMEO = 'romeo@montague.example';

  it('§3.1: Romeo subscribes to Juliet, she approves; then the reverse; both end at "Both"', () => {
    const world = new World();
    world.send(ROMEO, 'subscribe', JULIET);
    expect(world.state(ROMEO, JULIET)).toBe('None + Pending Out');
    expect(world.state(JULIET, ROMEO)).toBe('None + Pending In');
    expect(world.item(JULIET, ROMEO)?.listed).toBe(false);
    expect(world.delivered).toEqual([{ owner: JULIET, type: 'subscribe', from: ROMEO }]);
    expect(world.pushes).toEqual([{ owner: ROMEO, jid: JULIET, subscription: 'none' }]);

    world.send(JULIET, 'subscribed', ROMEO);
    expect(world.state(JULIET, ROMEO)).toBe('From');
    expect(world.state(ROMEO, JULIET)).toBe('To');
    expect(world.presence).toEqual([{ owner: JULIET, kind: 'send-presence-of-user', to: ROMEO }]);
    expect(world.delivered.at(-1)).toEqual({ owner: ROMEO, type: 'subscribed', from: JULIET });

    world.send(JULIET, 'subscribe', ROMEO);
    expect(world.state(JULIET, ROMEO)).toBe('From + Pending Out');
    expect(world.state(ROMEO, JULIET)).toBe('To + Pending In');
    world.send(ROMEO, 'subscribed', JULIET);
    expect(world.state(ROMEO, JULIET)).toBe('Both');
    expect(world.state(JULIET, ROMEO)).toBe('Both');
    expect(world.pushes.filter((push) => push.subscription === 'both')).toEqual([
      { owner: ROMEO, jid: JULIET, subscription: 'both' },
      { owner: JULIET, jid: ROMEO, subscription: 'both' },
    ]);
  });

  it('§3.3 and §3.2: unsubscribing, then cancelling, takes a mutual subscription down to "None"', () => {
    const world = new World();
    world.send(ROMEO, 'subscribe', JULIET);
    world.send(JULIET, 'subscribed', ROMEO);
    world.send(JULIET, 'subscribe', ROMEO);
    world.send(ROMEO, 'subscribed', JULIET);
    world.presence.length = 0;

    // §3.3: Romeo no longer wants Juliet's presence.
    world.send(ROMEO, 'unsubscribe', JULIET);
    expect(world.state(ROMEO, JULIET)).toBe('From');
    expect(world.state(JULIET, ROMEO)).toBe('To');
    expect(world.presence).toEqual([{ owner: JULIET, kind: 'send-unavailable-of-user', to: ROMEO }]);

    // §3.2: Romeo cancels Juliet's subscription to him.
    world.send(ROMEO, 'unsubscribed', JULIET);
    expect(world.state(ROMEO, JULIET)).toBe('None');
    expect(world.state(JULIET, ROMEO)).toBe('None');
    expect(world.presence.at(-1)).toEqual({ owner: ROMEO, kind: 'send-unavailable-of-user', to: JULIET });
    // Both keep each other as roster items (listed), with no subscription.
    expect(world.item(ROMEO, JULIET)?.listed).toBe(true);
    expect(world.item(JULIET, ROMEO)?.listed).toBe(true);
  });

  it('§3.1.3: a request made while the user is offline is delivered at every login until answered', () => {
    const world = new World();
    const request = xml('presence', { type: 'subscribe' }, xml('status', null, 'wherefore art thou'));
    world.send(ROMEO, 'subscribe', JULIET, request);
    const redelivered = pendingSubscriptionRequests(world.items(JULIET)).map(serialize);
    expect(redelivered).toEqual([
      `<presence xmlns="jabber:client" from="${ROMEO}" to="${JULIET}" type="subscribe">` +
        '<status>wherefore art thou</status></presence>',
    ]);
    // Still pending at the next login; gone once Juliet decides.
    expect(pendingSubscriptionRequests(world.items(JULIET))).toHaveLength(1);
    world.send(JULIET, 'subscribed', ROMEO);
    expect(pendingSubscriptionRequests(world.items(JULIET))).toEqual([]);
  });

  it('§3.1.4 and §3.2: a denied request leaves the contact at "None" and nothing stored for the user', () => {
    const world = new World();
    world.send(ROMEO, 'subscribe', JULIET);
    world.send(JULIET, 'unsubscribed', ROMEO);
    expect(world.state(ROMEO, JULIET)).toBe('None');
    expect(world.item(JULIET, ROMEO)).toBeUndefined();
    expect(world.delivered.at(-1)).toEqual({ owner: ROMEO, type: 'unsubscribed', from: JULIET });
  });

  it('§3.3.2: a request cancelled before it is answered is withdrawn from the contact too', () => {
    const world = new World();
    world.send(ROMEO, 'subscribe', JULIET);
    world.send(ROMEO, 'unsubscribe', JULIET);
    expect(world.state(ROMEO, JULIET)).toBe('None');
    expect(world.item(JULIET, ROMEO)).toBeUndefined();
    expect(pendingSubscriptionRequests(world.items(JULIET))).toEqual([]);
  });

  it('§3.1.3: subscribing to each other at the same time crosses the requests ("Pending Out+In")', () => {
    const world = new World();
    world.send(ROMEO, 'subscribe', JULIET);
    world.send(JULIET, 'subscribe', ROMEO);
    expect(world.state(ROMEO, JULIET)).toBe('None + Pending Out+In');
    expect(world.state(JULIET, ROMEO)).toBe('None + Pending Out+In');
    world.send(JULIET, 'subscribed', ROMEO);
    expect(world.state(JULIET, ROMEO)).toBe('From + Pending Out');
    expect(world.state(ROMEO, JULIET)).toBe('To + Pending In');
    world.send(ROMEO, 'subscribed', JULIET);
    expect(world.state(ROMEO, JULIET)).toBe('Both');
    expect(world.state(JULIET, ROMEO)).toBe('Both');
  });

  it('§3.4: a pre-approved contact’s request is approved by the server, never shown to the user', () => {
    const world = new World();
    world.send(JULIET, 'subscribed', ROMEO);
    expect(world.item(JULIET, ROMEO)?.approved).toBe(true);
    world.send(ROMEO, 'subscribe', JULIET);
    expect(world.state(JULIET, ROMEO)).toBe('From');
    expect(world.state(ROMEO, JULIET)).toBe('To');
    expect(world.delivered.filter((d) => d.owner === JULIET)).toEqual([]);
  });

  it('A.3.1 "no *": a contact whose server lost the subscription gets it confirmed, not re-asked', () => {
    const world = new World();
    world.send(ROMEO, 'subscribe', JULIET);
    world.send(JULIET, 'subscribed', ROMEO);
    // Romeo's server loses his roster (say, restored from an old backup) and Romeo asks again.
    world.forget(ROMEO, JULIET);
    const deliveredBefore = world.delivered.length;
    world.send(ROMEO, 'subscribe', JULIET);
    expect(world.state(JULIET, ROMEO)).toBe('From');
    expect(world.state(ROMEO, JULIET)).toBe('To');
    // Juliet is not asked again; Romeo is told "subscribed" and gets her presence.
    expect(world.delivered.slice(deliveredBefore)).toEqual([
      { owner: ROMEO, type: 'subscribed', from: JULIET },
    ]);
    expect(world.presence.at(-1)).toEqual({ owner: JULIET, kind: 'send-presence-of-user', to: ROMEO });
  });

  it('§2.5.2: removing a mutual contact sends unsubscribe and unsubscribed; both sides end at "None"', () => {
    const world = new World();
    world.send(ROMEO, 'subscribe', JULIET);
    world.send(JULIET, 'subscribed', ROMEO);
    world.send(JULIET, 'subscribe', ROMEO);
    world.send(ROMEO, 'subscribed', JULIET);
    world.removeFromRoster(ROMEO, JULIET);
    expect(world.item(ROMEO, JULIET)).toBeUndefined();
    expect(world.state(JULIET, ROMEO)).toBe('None');
    expect(world.delivered.slice(-2)).toEqual([
      { owner: JULIET, type: 'unsubscribe', from: ROMEO },
      { owner: JULIET, type: 'unsubscribed', from: ROMEO },
    ]);
    expect(world.pushes.at(-1)).toEqual({ owner: JULIET, jid: ROMEO, subscription: 'none' });
  });

  it('every state of Appendix A.1 is reachable through the flows', () => {
    const reached = new Set<SubscriptionState>();
    const world = new World();
    const steps: [string, SubscriptionType, string][] = [
      [ROMEO, 'subscribe', JULIET],
      [JULIET, 'subscribe', ROMEO],
      [JULIET, 'subscribed', ROMEO],
      [ROMEO, 'subscribed', JULIET],
      [ROMEO, 'unsubscribe', JULIET],
      [ROMEO, 'subscribe', JULIET],
      [JULIET, 'unsubscribed', ROMEO],
      [ROMEO, 'unsubscribed', JULIET],
    ];
    reached.add(world.state(ROMEO, JULIET));
    for (const [user, type, contact] of steps) {
      world.send(user, type, contact);
      reached.add(world.state(ROMEO, JULIET));
      reached.add(world.state(JULIET, ROMEO));
    }
    expect([...reached].sort()).toEqual([...SUBSCRIPTION_STATES].sort());
  });
});

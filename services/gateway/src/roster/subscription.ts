import type { Element } from '@holdfast/xmpp';

import {
  clientView,
  hasFrom,
  newRosterItem,
  normalizeItem,
  subscriptionState,
  withState,
  type ItemChange,
  type RosterEffect,
  type RosterItem,
  type SubscriptionState,
} from './model.js';
import {
  pendingRequestPresence,
  statusText,
  subscriptionPresence,
  type SubscriptionType,
} from './stanzas.js';

/**
 * A presence subscription stanza the user's server processes (RFC 6121 §3). `outbound`: sent by the user
 * to the contact (Appendix A.2); `inbound`: sent by the contact to the user (Appendix A.3).
 */
export interface SubscriptionCommand {
  readonly direction: 'outbound' | 'inbound';
  readonly type: SubscriptionType;
  /** The roster's owner, the user this server serves: a bare JID. */
  readonly user: string;
  /** The other party, a bare JID (a full `to` is treated as its bare JID, §3.1.2). */
  readonly contact: string;
  /** The stanza as received: its `id`, `xml:lang` and payload travel on with it. */
  readonly stanza?: Element | undefined;
}

export interface SubscriptionOptions {
  /** §3.4 pre-approvals (stream feature `urn:xmpp:features:pre-approval`); default true. */
  readonly preApproval?: boolean;
}

export interface SubscriptionDecision {
  /** Appendix A.1 states, for logs and tests. */
  readonly before: SubscriptionState;
  readonly after: SubscriptionState;
  readonly change: ItemChange;
  readonly effects: readonly RosterEffect[];
}

type Table = Readonly<Record<SubscriptionState, SubscriptionState | null>>;

/**
 * The Appendix A tables: the new state, or `null` for "no state change", which also means the stanza is
 * neither routed (A.2) nor delivered (A.3). Outbound `subscribe` and `unsubscribe` have no table in
 * Appendix A: they are always routed (A.2 preamble) and change state as §3.1.2 and §3.3.2 describe.
 */
const TABLES: Readonly<Record<'outbound' | 'inbound', Readonly<Record<SubscriptionType, Table>>>> = {
  outbound: {
    /** §3.1.2: the request is now pending out, unless it already was or the user is subscribed. */
    subscribe: {
      None: 'None + Pending Out',
      'None + Pending Out': null,
      'None + Pending In': 'None + Pending Out+In',
      'None + Pending Out+In': null,
      To: null,
      'To + Pending In': null,
      From: 'From + Pending Out',
      'From + Pending Out': null,
      Both: null,
    },
    /** §3.3.2: ends the user's subscription to the contact, or cancels the pending request for it. */
    unsubscribe: {
      None: null,
      'None + Pending Out': 'None',
      'None + Pending In': null,
      'None + Pending Out+In': 'None + Pending In',
      To: 'None',
      'To + Pending In': 'None + Pending In',
      From: null,
      'From + Pending Out': 'From',
      Both: 'From',
    },
    /** A.2.1. */
    subscribed: {
      None: null,
      'None + Pending Out': null,
      'None + Pending In': 'From',
      'None + Pending Out+In': 'From + Pending Out',
      To: null,
      'To + Pending In': 'Both',
      From: null,
      'From + Pending Out': null,
      Both: null,
    },
    /** A.2.2. */
    unsubscribed: {
      None: null,
      'None + Pending Out': null,
      'None + Pending In': 'None',
      'None + Pending Out+In': 'None + Pending Out',
      To: null,
      'To + Pending In': 'To',
      From: 'None',
      'From + Pending Out': 'None + Pending Out',
      Both: 'To',
    },
  },
  inbound: {
    /** A.3.1 (the "no *" rows, where the contact already has a subscription, are auto-replied). */
    subscribe: {
      None: 'None + Pending In',
      'None + Pending Out': 'None + Pending Out+In',
      'None + Pending In': null,
      'None + Pending Out+In': null,
      To: 'To + Pending In',
      'To + Pending In': null,
      From: null,
      'From + Pending Out': null,
      Both: null,
    },
    /** A.3.2. */
    unsubscribe: {
      None: null,
      'None + Pending Out': null,
      'None + Pending In': 'None',
      'None + Pending Out+In': 'None + Pending Out',
      To: null,
      'To + Pending In': 'To',
      From: 'None',
      'From + Pending Out': 'None + Pending Out',
      Both: 'To',
    },
    /** A.3.3. */
    subscribed: {
      None: null,
      'None + Pending Out': 'To',
      'None + Pending In': null,
      'None + Pending Out+In': 'To + Pending In',
      To: null,
      'To + Pending In': null,
      From: null,
      'From + Pending Out': 'Both',
      Both: null,
    },
    /** A.3.4. */
    unsubscribed: {
      None: null,
      'None + Pending Out': 'None',
      'None + Pending In': null,
      'None + Pending Out+In': 'None + Pending In',
      To: 'None',
      'To + Pending In': 'None + Pending In',
      From: null,
      'From + Pending Out': 'From',
      Both: 'From',
    },
  },
};

/** The state `command` leads to from `state` per Appendix A, or null for no state change. */
export function transition(
  direction: 'outbound' | 'inbound',
  type: SubscriptionType,
  state: SubscriptionState,
): SubscriptionState | null {
  return TABLES[direction][type][state];
}

/**
 * §3.4: states in which a `subscribed` from the user is a pre-approval (no request to answer, no `from`
 * yet), and the state a pre-approved `subscribe` from the contact then leads to: the request (A.3.1)
 * approved at once (A.2.1).
 */
const PRE_APPROVED: Readonly<Partial<Record<SubscriptionState, SubscriptionState>>> = {
  None: 'From',
  'None + Pending Out': 'From + Pending Out',
  To: 'Both',
};

/**
 * RFC 6121 §3 and Appendix A: what the user's server does with one subscription stanza, given the stored
 * item for (user, contact). Pure; persisting `change` and carrying out `effects` is the caller's job.
 */
export function decideSubscription(
  current: RosterItem | undefined,
  command: SubscriptionCommand,
  options: SubscriptionOptions = {},
): SubscriptionDecision {
  const before = subscriptionState(current);
  // Nothing stored is state "None"; a record created from it is unlisted until the user is involved.
  const base = current ?? { ...newRosterItem(command.user, command.contact), listed: false };
  const outcome =
    command.direction === 'outbound'
      ? outbound(base, before, command, options.preApproval ?? true)
      : inbound(base, before, command);
  const { change, effects } = finish(current, outcome);
  const after =
    change.kind === 'put' ? subscriptionState(change.item) : change.kind === 'delete' ? 'None' : before;
  return { before, after, change, effects };
}

interface Outcome {
  /** The item after the stanza, or undefined when nothing changed. */
  readonly item: RosterItem | undefined;
  /** Effects other than the roster push, which `finish` adds when what the client sees changed. */
  readonly effects: readonly RosterEffect[];
}

const NOTHING: Outcome = { item: undefined, effects: [] };

function outbound(
  base: RosterItem,
  before: SubscriptionState,
  command: SubscriptionCommand,
  preApproval: boolean,
): Outcome {
  const { type, user, contact, stanza } = command;
  const next = transition('outbound', type, before);
  const route: RosterEffect = { kind: 'route', stanza: subscriptionPresence(type, user, contact, stanza) };
  switch (type) {
    case 'subscribe':
      // §3.1.2: routed without exception (A.2) so that a user can resynchronise; the contact joins the
      // roster with ask='subscribe'.
      return { item: next === null ? undefined : listedIn(base, next), effects: [route] };
    case 'unsubscribe':
      // §3.3.2: routed without exception (A.2).
      return { item: next === null ? undefined : withState(base, next), effects: [route] };
    case 'subscribed':
      if (next !== null) {
        // A.2.1 "yes" rows, §3.1.5: the request is approved, the contact joins the roster and receives the
        // user's current presence.
        return { item: listedIn(base, next), effects: [route, presenceOf(contact)] };
      }
      if (preApproval && PRE_APPROVED[before] !== undefined && base.approved !== true) {
        // §3.4: remembered, not routed; the contact joins the roster with approved='true'.
        return { item: { ...base, listed: true, approved: true }, effects: [] };
      }
      return NOTHING;
    case 'unsubscribed':
      if (next !== null) {
        // A.2.2 "yes" rows: a request denied (§3.1.4) or a subscription cancelled (§3.2.2, where the user
        // then also appears offline to the contact).
        const effects: RosterEffect[] = [route];
        if (hasFrom(base)) effects.push({ kind: 'send-unavailable-of-user', to: contact });
        return { item: withState(base, next), effects };
      }
      if (base.approved === true) {
        // §3.4: cancels a pre-approval; the contact never learnt of it, so nothing is routed.
        return { item: { ...base, approved: undefined }, effects: [] };
      }
      return NOTHING;
  }
}

function inbound(base: RosterItem, before: SubscriptionState, command: SubscriptionCommand): Outcome {
  const { type, user, contact, stanza } = command;
  const next = transition('inbound', type, before);
  if (type === 'subscribe') {
    if (hasFrom(base)) {
      // A.3.1 "no *" rows: the contact lost track of a subscription it has; confirm it, and send the
      // user's presence so the contact does not see the user offline until the next broadcast.
      return { item: undefined, effects: [autoReply('subscribed', user, contact), presenceOf(contact)] };
    }
    const preApproved = PRE_APPROVED[before];
    if (base.approved === true && preApproved !== undefined) {
      // §3.1.3 with §3.4: approved without asking the user, then as after an approval (§3.1.5).
      return {
        item: listedIn(base, preApproved),
        effects: [autoReply('subscribed', user, contact), presenceOf(contact)],
      };
    }
  }
  if (next === null) return NOTHING;
  const deliver: RosterEffect = {
    kind: 'deliver-to-user',
    stanza: subscriptionPresence(type, contact, user, stanza),
  };
  if (type === 'subscribe') {
    // A.3.1 "yes" rows: kept as Pending In, delivered to the available resources now (if any) and again
    // at every initial presence until the user decides (§3.1.3).
    return { item: { ...withState(base, next), pendingInStatus: statusText(stanza) }, effects: [deliver] };
  }
  const effects: RosterEffect[] = [deliver];
  if (type === 'unsubscribe' && hasFrom(base)) {
    // A.3.2 with §3.3.3: the contact no longer receives the user's presence; it sees the user go offline.
    effects.push({ kind: 'send-unavailable-of-user', to: contact });
  }
  return { item: withState(base, next), effects };
}

function listedIn(item: RosterItem, state: SubscriptionState): RosterItem {
  return withState({ ...item, listed: true }, state);
}

function autoReply(type: SubscriptionType, user: string, contact: string): RosterEffect {
  return { kind: 'auto-reply', stanza: subscriptionPresence(type, user, contact) };
}

function presenceOf(contact: string): RosterEffect {
  return { kind: 'send-presence-of-user', to: contact };
}

/**
 * The stored change and the roster push. A record left unlisted with nothing pending is deleted; a push
 * goes out only when what the client sees changed (§2.1.6).
 */
function finish(
  current: RosterItem | undefined,
  outcome: Outcome,
): { change: ItemChange; effects: readonly RosterEffect[] } {
  if (outcome.item === undefined) return { change: { kind: 'unchanged' }, effects: outcome.effects };
  const item = normalizeItem(outcome.item);
  const gone = !item.listed && subscriptionState(item) === 'None';
  let change: ItemChange;
  if (!gone) change = { kind: 'put', item };
  else change = current === undefined ? { kind: 'unchanged' } : { kind: 'delete' };
  const after = gone ? undefined : item;
  if (clientView(after) === clientView(current)) return { change, effects: outcome.effects };
  const push: RosterEffect =
    after?.listed === true
      ? { kind: 'push', item: after }
      : { kind: 'push', item: { jid: item.jid, subscription: 'remove' } };
  return { change, effects: [...outcome.effects, push] };
}

/**
 * §3.1.3: the requests to deliver again when one of the owner's resources becomes available, until the
 * user approves or denies each one.
 */
export function pendingSubscriptionRequests(items: readonly RosterItem[]): Element[] {
  return items.filter((item) => item.pendingIn).map(pendingRequestPresence);
}

import { JidError, NS, StanzaError, parseJid, xml, type Element, type Jid } from '@holdfast/xmpp';

import {
  hasFrom,
  hasTo,
  newRosterItem,
  normalizeItem,
  type ItemChange,
  type RosterEffect,
  type RosterItem,
} from './model.js';
import { rosterQuery, subscriptionPresence } from './stanzas.js';

/** Server-configured limits on roster sets (RFC 6121 §2.3.3 leaves their values to the server). */
export interface RosterLimits {
  /** Longest `name`, in characters (code points). */
  readonly maxNameLength: number;
  /** Longest `<group/>` text, in characters (code points). */
  readonly maxGroupLength: number;
  /** Most groups per item. */
  readonly maxGroups: number;
  /** Most items per roster: bounds what one account can make the server store. */
  readonly maxItems: number;
}

export const DEFAULT_ROSTER_LIMITS: RosterLimits = Object.freeze({
  maxNameLength: 1023,
  maxGroupLength: 1023,
  maxGroups: 64,
  maxItems: 2000,
});

/** A roster IQ from the user, parsed and validated (RFC 6121 §2.1.3, §2.1.5). */
export type RosterQuery =
  | { readonly kind: 'get' }
  | {
      readonly kind: 'set';
      /** Prepared bare JID (RFC 7622). */
      readonly jid: string;
      readonly name: string | undefined;
      readonly groups: readonly string[];
    }
  | { readonly kind: 'remove'; readonly jid: string };

export type RosterSetQuery = Exclude<RosterQuery, { kind: 'get' }>;

function modify(condition: 'bad-request' | 'not-acceptable' | 'jid-malformed', text: string): StanzaError {
  return new StanzaError('modify', condition, { text });
}

/** Length in code points, so a limit means the same for every script. */
function characters(value: string): number {
  return Array.from(value).length;
}

/**
 * Reads a roster get or set (`<iq type='get|set'><query xmlns='jabber:iq:roster'/></iq>`) that `user` (a
 * bare JID) sent. Throws a `StanzaError` to answer with (`errorReply`):
 * - `forbidden`: addressed to anyone but the user's own account (§2.1.5, §2.3.3);
 * - `bad-request`: not exactly one `<item/>` in a set (§2.1.5, §2.3.3), no `jid`, duplicate groups (§2.3.3);
 * - `jid-malformed`: a `jid` that is not a JID (RFC 6120 §8.3.3.8);
 * - `not-acceptable`: a `jid` with a resource (items are contacts' bare JIDs here, so subscriptions can
 *   apply to them), a name or group longer than the limits, an empty group, too many groups (§2.3.3).
 * An empty `name` is no name. `subscription` values other than "remove" are ignored (§2.1.5), as are `ask`
 * and `approved` (§2.1.2.1, §2.1.2.2: only the server sets them).
 */
export function parseRosterQuery(
  iq: Element,
  user: string,
  limits: RosterLimits = DEFAULT_ROSTER_LIMITS,
): RosterQuery {
  const to = iq.attrs.to;
  if (to !== undefined && to !== user) {
    throw new StanzaError('auth', 'forbidden', { text: 'only the account itself manages its roster' });
  }
  const query = iq.getChild('query', NS.ROSTER);
  if (iq.getName() !== 'iq' || query === undefined) throw modify('bad-request', 'not a roster query');
  if (iq.attrs.type === 'get') return { kind: 'get' };
  if (iq.attrs.type !== 'set') throw modify('bad-request', 'a roster query is a get or a set');

  const items = query.getChildElements().filter((child) => child.getName() === 'item');
  if (items.length !== 1) throw modify('bad-request', 'a roster set carries exactly one item');
  const item = items[0] as Element;
  const jid = bareJid(item.attrs.jid);
  if (item.attrs.subscription === 'remove') return { kind: 'remove', jid };

  const name = item.attrs.name === '' ? undefined : item.attrs.name;
  if (name !== undefined && characters(name) > limits.maxNameLength) {
    throw modify('not-acceptable', `name longer than ${limits.maxNameLength} characters`);
  }
  const groups = item.getChildElements().filter((child) => child.getName() === 'group');
  if (groups.length > limits.maxGroups)
    throw modify('not-acceptable', `more than ${limits.maxGroups} groups`);
  const names: string[] = [];
  for (const group of groups) {
    const text = group.getText();
    if (text === '') throw modify('not-acceptable', 'empty group name');
    if (characters(text) > limits.maxGroupLength) {
      throw modify('not-acceptable', `group name longer than ${limits.maxGroupLength} characters`);
    }
    if (names.includes(text)) throw modify('bad-request', `duplicate group ${JSON.stringify(text)}`);
    names.push(text);
  }
  return { kind: 'set', jid, name, groups: names };
}

function bareJid(value: string | undefined): string {
  if (value === undefined || value === '') throw modify('bad-request', 'item without a jid');
  let jid: Jid;
  try {
    jid = parseJid(value);
  } catch (error) {
    if (error instanceof JidError) throw modify('jid-malformed', error.message);
    throw error;
  }
  if (!jid.isBare) throw modify('not-acceptable', 'roster items are bare JIDs');
  return jid.toString();
}

export interface RosterSetContext {
  /** The roster's owner, a bare JID. */
  readonly user: string;
  /** Items in the roster now (listed ones), for `maxItems`. */
  readonly itemCount: number;
  readonly limits?: RosterLimits;
}

export interface RosterSetDecision {
  readonly change: ItemChange;
  /** Presence to route (§2.5.2), then the roster push (§2.3.2, §2.4.2, §2.5.2). */
  readonly effects: readonly RosterEffect[];
}

/**
 * RFC 6121 §2.3-§2.5: a roster set or remove against the stored item for (user, query.jid). Pure. After
 * persisting `change`, the caller answers with `rosterSetResult` and carries out `effects`.
 *
 * A set adds the item or replaces its name and groups with what was sent (§2.4: groups left out are
 * dropped), never its subscription state (§2.1.5). A remove (§2.5.2) also ends both subscriptions: `unsubscribe` when the user
 * is subscribed to the contact or asked to be, `unsubscribed` when the contact is subscribed to the user or
 * asked to be (cancelling and declining pending requests too, so neither side keeps a stale one), with
 * `unavailable` presence where the contact was receiving it (as for §3.2.2).
 *
 * Throws `StanzaError`: `item-not-found` to remove what is not in the roster (§2.5.3), `policy-violation`
 * to add beyond `maxItems`.
 */
export function decideRosterSet(
  query: RosterSetQuery,
  current: RosterItem | undefined,
  context: RosterSetContext,
): RosterSetDecision {
  const { user } = context;
  const inRoster = current?.listed === true ? current : undefined;
  if (query.kind === 'remove') {
    if (inRoster === undefined) {
      throw new StanzaError('cancel', 'item-not-found', { text: `${query.jid} is not in the roster` });
    }
    const effects: RosterEffect[] = [];
    if (hasTo(inRoster) || inRoster.ask === 'subscribe') {
      effects.push({ kind: 'route', stanza: subscriptionPresence('unsubscribe', user, query.jid) });
    }
    if (hasFrom(inRoster) || inRoster.pendingIn) {
      effects.push({ kind: 'route', stanza: subscriptionPresence('unsubscribed', user, query.jid) });
    }
    if (hasFrom(inRoster)) effects.push({ kind: 'send-unavailable-of-user', to: query.jid });
    effects.push({ kind: 'push', item: { jid: query.jid, subscription: 'remove' } });
    return { change: { kind: 'delete' }, effects };
  }

  const limits = context.limits ?? DEFAULT_ROSTER_LIMITS;
  if (inRoster === undefined && context.itemCount >= limits.maxItems) {
    throw new StanzaError('cancel', 'policy-violation', {
      text: `a roster holds at most ${limits.maxItems} items`,
    });
  }
  // An unlisted record (a pending request from someone not in the roster) keeps that request.
  const item = normalizeItem({
    ...(current ?? newRosterItem(user, query.jid)),
    listed: true,
    name: query.name,
    groups: query.groups,
  });
  const unchanged = inRoster !== undefined && sameItem(inRoster, item);
  return {
    change: unchanged ? { kind: 'unchanged' } : { kind: 'put', item },
    effects: [{ kind: 'push', item }],
  };
}

function sameItem(a: RosterItem, b: RosterItem): boolean {
  return (
    a.name === b.name && a.groups.length === b.groups.length && a.groups.every((g, i) => g === b.groups[i])
  );
}

/** §2.1.4: the result of a roster get, `items` being everything stored for the user. */
export function rosterGetResult(iq: Element, items: readonly RosterItem[]): Element {
  return xml(
    'iq',
    { xmlns: NS.CLIENT, type: 'result', id: iq.attrs.id, to: iq.attrs.from, from: iq.attrs.to },
    rosterQuery(items),
  );
}

/** §2.3.2, §2.4.2, §2.5.2: the empty result of a successful roster set. */
export function rosterSetResult(iq: Element): Element {
  return xml('iq', {
    xmlns: NS.CLIENT,
    type: 'result',
    id: iq.attrs.id,
    to: iq.attrs.from,
    from: iq.attrs.to,
  });
}

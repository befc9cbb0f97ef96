import { NS, cloneElement, xml, type Element } from '@holdfast/xmpp';

import { hasFrom, type RosterItem, type RosterPushItem } from './model.js';

/** RFC 6121 §3: the presence types that manage subscriptions. */
export type SubscriptionType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

const SUBSCRIPTION_TYPES: ReadonlySet<string> = new Set([
  'subscribe',
  'subscribed',
  'unsubscribe',
  'unsubscribed',
]);

/** The subscription type of a presence stanza, or undefined for any other presence (or non-presence). */
export function subscriptionTypeOf(stanza: Element): SubscriptionType | undefined {
  const type = stanza.attrs.type;
  if (stanza.getName() !== 'presence' || type === undefined || !SUBSCRIPTION_TYPES.has(type))
    return undefined;
  return type as SubscriptionType;
}

/** RFC 6121 §2.1.2: an `<item/>` as clients see it. `approved` only while it means something (§2.1.2.1). */
export function rosterItemElement(item: RosterPushItem): Element {
  if (item.subscription === 'remove') return xml('item', { jid: item.jid, subscription: 'remove' });
  return xml(
    'item',
    {
      jid: item.jid,
      name: item.name,
      subscription: item.subscription,
      ask: item.ask,
      approved: item.approved === true && !hasFrom(item) ? 'true' : undefined,
    },
    item.groups.map((group) => xml('group', null, group)),
  );
}

/** §2.1.4: `<query xmlns='jabber:iq:roster'/>` with the items of the roster, by JID. Unlisted records are left out. */
export function rosterQuery(items: readonly RosterItem[]): Element {
  const listed = items
    .filter((item) => item.listed)
    .sort((a, b) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0));
  return xml('query', { xmlns: NS.ROSTER }, listed.map(rosterItemElement));
}

/**
 * §2.1.6: a roster push to one interested resource, `to` its full JID. No `from`: it comes from the user's
 * own account (§2.1.6 lets a client accept a push with no `from` or its bare JID).
 */
export function rosterPush(item: RosterPushItem, to: string, id: string): Element {
  return xml(
    'iq',
    { xmlns: NS.CLIENT, type: 'set', id, to },
    xml('query', { xmlns: NS.ROSTER }, rosterItemElement(item)),
  );
}

/**
 * A subscription presence from `from` to `to` (both bare JIDs, §3.1.2), keeping the `id`, `xml:lang` and
 * payload (`<status/>`, XEP-0172 `<nick/>`, …) of `original`, the stanza it answers or forwards.
 */
export function subscriptionPresence(
  type: SubscriptionType,
  from: string,
  to: string,
  original?: Element,
): Element {
  return xml(
    'presence',
    { xmlns: NS.CLIENT, from, to, type, id: original?.attrs.id, 'xml:lang': original?.attrs['xml:lang'] },
    original?.children.map((child) => (typeof child === 'string' ? child : cloneElement(child))),
  );
}

/** The first `<status/>` text of a presence, which a stored subscription request keeps (§3.1.3). */
export function statusText(presence: Element | undefined): string | undefined {
  const status = presence?.getChildText('status');
  return status === null || status === undefined || status === '' ? undefined : status;
}

/** §3.1.3: the stored request of a "Pending In" item, as delivered again at initial presence. */
export function pendingRequestPresence(item: RosterItem): Element {
  return xml(
    'presence',
    { xmlns: NS.CLIENT, from: item.jid, to: item.owner, type: 'subscribe' },
    item.pendingInStatus !== undefined && xml('status', null, item.pendingInStatus),
  );
}

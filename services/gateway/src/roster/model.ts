import type { Element } from '@holdfast/xmpp';

/** RFC 6121 §2.1.2.5: the stored subscription. `remove` is only ever a request, never a state. */
export type Subscription = 'none' | 'to' | 'from' | 'both';

/**
 * One contact in one user's roster (RFC 6121 §2.1.2), plus the server-side subscription state the client
 * never sees as attributes: a pending inbound request and whether the item is in the roster at all.
 */
export interface RosterItem {
  /** The roster's user, a bare JID. */
  readonly owner: string;
  /** The contact, a bare JID (§2.1.2.3). */
  readonly jid: string;
  /** The user's handle for the contact (§2.1.2.4); absent when the user gave none. */
  readonly name?: string | undefined;
  /** §2.1.2.6, in the order the user gave them, no duplicates. */
  readonly groups: readonly string[];
  readonly subscription: Subscription;
  /** "Pending Out" (§2.1.2.2, Appendix A.1): the user asked for the contact's presence, no answer yet. */
  readonly ask?: 'subscribe' | undefined;
  /**
   * "Pending In" (Appendix A.1): the contact asked for the user's presence and the user has not decided.
   * Kept while the user is offline and re-delivered at every initial presence until approved or denied
   * (§3.1.3).
   */
  readonly pendingIn: boolean;
  /** The `<status/>` of that stored request, re-delivered with it. */
  readonly pendingInStatus?: string | undefined;
  /** §3.4 pre-approval: a `subscribe` from the contact will be approved without asking the user. */
  readonly approved?: boolean | undefined;
  /**
   * False for a record kept only to remember an inbound request from someone the user never added: it is
   * "None + Pending In", is neither returned by a roster get nor pushed, and becomes a roster item once the
   * user approves, subscribes or adds it (§3.1.3, §3.1.5). Deleted when the request goes away.
   */
  readonly listed: boolean;
}

/** Removal in a roster push (§2.5.2): `<item jid='…' subscription='remove'/>`. */
export interface RosterRemoval {
  readonly jid: string;
  readonly subscription: 'remove';
}

export type RosterPushItem = RosterItem | RosterRemoval;

/** What a decision does to the stored item of (owner, contact). */
export type ItemChange =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'put'; readonly item: RosterItem }
  | { readonly kind: 'delete' };

/**
 * What the gateway must carry out after persisting a decision, in order. Stanzas are complete: addressed,
 * `from` stamped with bare JIDs (RFC 6121 §3.1.2), in the `jabber:client` namespace.
 */
export type RosterEffect =
  /** §2.1.6: push to every interested resource of the owner (addressing and ids are the gateway's). */
  | { readonly kind: 'push'; readonly item: RosterPushItem }
  /** Route to the contact on the user's behalf (outbound subscription stanza, or one implied by a roster remove). */
  | { readonly kind: 'route'; readonly stanza: Element }
  /** Deliver an inbound subscription stanza to the owner's available resources, if any (§3.1.3, §3.1.6, §3.2.3, §3.3.3). */
  | { readonly kind: 'deliver-to-user'; readonly stanza: Element }
  /** Routed to the contact like `route`, but answered by the server without the user (§3.1.3, §3.4). */
  | { readonly kind: 'auto-reply'; readonly stanza: Element }
  /** §3.1.5: send the owner's current presence from each available resource to `to`. */
  | { readonly kind: 'send-presence-of-user'; readonly to: string }
  /** §3.2.2, §3.3.3: send `unavailable` from each available resource of the owner to `to`. */
  | { readonly kind: 'send-unavailable-of-user'; readonly to: string };

/** RFC 6121 Appendix A.1: the nine subscription states, named as in the RFC. */
export const SUBSCRIPTION_STATES = [
  'None',
  'None + Pending Out',
  'None + Pending In',
  'None + Pending Out+In',
  'To',
  'To + Pending In',
  'From',
  'From + Pending Out',
  'Both',
] as const;

export type SubscriptionState = (typeof SUBSCRIPTION_STATES)[number];

/** A fresh, listed item with no subscription: what a roster set or an outbound request starts from. */
export function newRosterItem(owner: string, jid: string): RosterItem {
  return { owner, jid, groups: [], subscription: 'none', pendingIn: false, listed: true };
}

export function hasTo(item: RosterItem | undefined): boolean {
  return item?.subscription === 'to' || item?.subscription === 'both';
}

export function hasFrom(item: RosterItem | undefined): boolean {
  return item?.subscription === 'from' || item?.subscription === 'both';
}

/** Appendix A.1 state of an item; no item at all is "None". */
export function subscriptionState(item: RosterItem | undefined): SubscriptionState {
  if (item === undefined) return 'None';
  const out = item.ask === 'subscribe';
  switch (item.subscription) {
    case 'none':
      if (out && item.pendingIn) return 'None + Pending Out+In';
      if (out) return 'None + Pending Out';
      return item.pendingIn ? 'None + Pending In' : 'None';
    case 'to':
      return item.pendingIn ? 'To + Pending In' : 'To';
    case 'from':
      return out ? 'From + Pending Out' : 'From';
    case 'both':
      return 'Both';
  }
}

const STATE_FIELDS: Readonly<
  Record<SubscriptionState, { subscription: Subscription; ask: boolean; pendingIn: boolean }>
> = {
  None: { subscription: 'none', ask: false, pendingIn: false },
  'None + Pending Out': { subscription: 'none', ask: true, pendingIn: false },
  'None + Pending In': { subscription: 'none', ask: false, pendingIn: true },
  'None + Pending Out+In': { subscription: 'none', ask: true, pendingIn: true },
  To: { subscription: 'to', ask: false, pendingIn: false },
  'To + Pending In': { subscription: 'to', ask: false, pendingIn: true },
  From: { subscription: 'from', ask: false, pendingIn: false },
  'From + Pending Out': { subscription: 'from', ask: true, pendingIn: false },
  Both: { subscription: 'both', ask: false, pendingIn: false },
};

/**
 * `item` moved to `state`. A request that is no longer pending loses its stored status; pre-approval ends
 * once the contact has the subscription it pre-approved (§3.4).
 */
export function withState(item: RosterItem, state: SubscriptionState): RosterItem {
  const fields = STATE_FIELDS[state];
  const from = fields.subscription === 'from' || fields.subscription === 'both';
  return normalizeItem({
    ...item,
    subscription: fields.subscription,
    ask: fields.ask ? 'subscribe' : undefined,
    pendingIn: fields.pendingIn,
    pendingInStatus: fields.pendingIn ? item.pendingInStatus : undefined,
    approved: from ? undefined : item.approved,
  });
}

/** Drops unset optional fields (`undefined`, `approved: false`), so equal items are deeply equal. */
export function normalizeItem(item: RosterItem): RosterItem {
  const result: {
    -readonly [K in keyof RosterItem]: RosterItem[K];
  } = {
    owner: item.owner,
    jid: item.jid,
    groups: item.groups,
    subscription: item.subscription,
    pendingIn: item.pendingIn,
    listed: item.listed,
  };
  if (item.name !== undefined) result.name = item.name;
  if (item.ask !== undefined) result.ask = item.ask;
  if (item.pendingIn && item.pendingInStatus !== undefined) result.pendingInStatus = item.pendingInStatus;
  if (item.approved === true) result.approved = true;
  return result;
}

/** What a client sees of an item (§2.1.2), to decide whether a change is worth a push. */
export function clientView(item: RosterItem | undefined): string | undefined {
  if (item?.listed !== true) return undefined;
  return JSON.stringify([
    item.jid,
    item.name ?? null,
    item.subscription,
    item.ask ?? null,
    item.approved === true && !hasFrom(item),
    item.groups,
  ]);
}

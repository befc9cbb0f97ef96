import { JidError, isIqType, isMessageType, isPresenceType, parseJid } from '@holdfast/xmpp';
import type {
  Element,
  IqType,
  Jid,
  MessageType,
  PresenceType,
  StanzaErrorCondition,
  StanzaErrorType,
} from '@holdfast/xmpp';

/**
 * Where a stanza goes, decided by the server rules of RFC 6121 §8 (which refine RFC 6120 §10). Pure: the
 * caller looks up the account and its bound resources first, then applies the returned `Route`.
 *
 * Choices where the RFC leaves the server one of two options, made once here:
 * - "Most available" (§8.5.2.1.1, normal and chat messages to the bare JID) is every available resource
 *   sharing the highest non-negative priority: with two phones at priority 5 both get the message, a
 *   desktop at priority 1 does not. Ties are not broken by recency, so the answer never depends on the
 *   order the registry lists resources in.
 * - Messages of every type but error to an account that does not exist (§8.5.1) get `service-unavailable`
 *   (option b), so a sender learns the address is dead. Probes to such an account are ignored (option a).
 * - Messages of type normal and groupchat to a full JID that has no such resource get `service-unavailable`
 *   (§8.5.3.2.1 option b), headlines are ignored (option a); chat falls back to the bare JID (option a).
 */

/** One bound resource anywhere in the cluster. */
export interface ResourceRecord {
  /** Full JID, prepared (as `Jid.toString()`). */
  readonly jid: string;
  /** Node id of the gateway holding the session. */
  readonly gateway: string;
  /** Session id. */
  readonly session: string;
  /** From the last available presence (RFC 6121 §4.7.2.3, -128..127); 0 until the first one. */
  readonly priority: number;
  /** Sent initial presence and no unavailable presence since (RFC 6121 §4.2, §4.5). */
  readonly available: boolean;
}

export type Route<R extends ResourceRecord = ResourceRecord> =
  /** Write the stanza to these sessions. */
  | { readonly kind: 'deliver'; readonly to: readonly R[] }
  /** Store for the bare JID (XEP-0160); the caller applies the storage policy and caps. */
  | { readonly kind: 'offline' }
  /**
   * The server handles it on behalf of the account or domain: IQs to a bare JID or the domain, stanzas
   * without `to`, subscription presence (§3), probes (§4.3).
   */
  | { readonly kind: 'server' }
  /**
   * Reply with this stanza error. `errorReply` returns `undefined` for stanzas that may not be answered
   * (errors, IQ results): the caller then drops; `route` never asks for that, but errorReply stays the guard.
   */
  | { readonly kind: 'error'; readonly condition: StanzaErrorCondition; readonly type: StanzaErrorType }
  /** Another domain: the s2s outlet (RFC 6120 §10.4). */
  | { readonly kind: 'remote' }
  | { readonly kind: 'drop' };

export interface RoutingContext<R extends ResourceRecord = ResourceRecord> {
  /** The local domain, prepared (as `Jid.domain`). */
  readonly domain: string;
  /** Whether the addressed account exists; read only when `addressee` is a local user. */
  readonly accountExists: boolean;
  /**
   * The resources bound to the addressed account, cluster-wide; read only when `addressee` is a local user.
   * Records of other accounts are ignored, so a wrong lookup cannot leak a stanza to someone else.
   */
  readonly resources: readonly R[];
}

/** Whom a stanza is for, before any lookup: tells the caller whether it needs the account and resources. */
export type Addressee =
  /** The server itself: no `to` on a presence or IQ (§8.2.2, §8.2.3), or `to` the domain (RFC 6120 §10.5.1-2). */
  | { readonly kind: 'server' }
  /** Another domain (§8.3). */
  | { readonly kind: 'remote'; readonly jid: Jid }
  /** A local account (§8.5): look up `jid.bare()`. A message without `to` is for the sender's bare JID (§8.2.1). */
  | { readonly kind: 'user'; readonly jid: Jid }
  /** `to`, or the `from` a message without `to` falls back to, is not a JID (RFC 6120 §8.3.3.8). */
  | { readonly kind: 'malformed' };

/** What `route` works with: presence without a type is `available`. */
type Stanza =
  | { readonly name: 'message'; readonly type: MessageType }
  | { readonly name: 'presence'; readonly type: PresenceType | 'available' }
  | { readonly name: 'iq'; readonly type: IqType };

const SUBSCRIPTION_TYPES: ReadonlySet<string> = new Set<PresenceType>([
  'subscribe',
  'subscribed',
  'unsubscribe',
  'unsubscribed',
]);

const DROP: Route<never> = { kind: 'drop' };
const OFFLINE: Route<never> = { kind: 'offline' };
const SERVER: Route<never> = { kind: 'server' };
const REMOTE: Route<never> = { kind: 'remote' };
const SERVICE_UNAVAILABLE: Route<never> = { kind: 'error', condition: 'service-unavailable', type: 'cancel' };
const BAD_REQUEST: Route<never> = { kind: 'error', condition: 'bad-request', type: 'modify' };
const JID_MALFORMED: Route<never> = { kind: 'error', condition: 'jid-malformed', type: 'modify' };

/**
 * `undefined` for an element that is not a stanza, `'invalid'` for a presence or IQ whose `type` is not one
 * RFC 6120 §8.2.2-§8.2.3 / RFC 6121 §4.7.1 define (or an IQ without one). A message of unknown or no type
 * is `normal` (RFC 6121 §5.2.2).
 */
function classify(stanza: Element): Stanza | 'invalid' | undefined {
  const type = stanza.attrs.type;
  switch (stanza.getName()) {
    case 'message':
      return {
        name: 'message',
        type: type !== undefined && isMessageType(type) ? type : 'normal',
      };
    case 'presence':
      if (type === undefined) return { name: 'presence', type: 'available' };
      return isPresenceType(type) ? { name: 'presence', type } : 'invalid';
    case 'iq':
      return type !== undefined && isIqType(type) ? { name: 'iq', type } : 'invalid';
    default:
      return undefined;
  }
}

/** Stanzas that must never be answered with an error (RFC 6120 §8.3.1, §8.2.3). */
function isAnswer(stanza: Stanza): boolean {
  return stanza.type === 'error' || stanza.type === 'result';
}

function tryParse(value: string): Jid | undefined {
  try {
    return parseJid(value);
  } catch (error) {
    if (error instanceof JidError) return undefined;
    throw error;
  }
}

/** RFC 6121 §8.2-§8.5: whom `stanza` is addressed to, relative to the local `domain`. */
export function addressee(stanza: Element, domain: string): Addressee {
  const { to, from } = stanza.attrs;
  if (to === undefined) {
    if (stanza.getName() !== 'message') return { kind: 'server' };
    // §8.2.1: a message without 'to' is treated as addressed to the sender's bare JID.
    const sender = from === undefined ? undefined : tryParse(from);
    return sender === undefined ? { kind: 'malformed' } : addresseeOf(sender.bare(), domain);
  }
  const jid = tryParse(to);
  return jid === undefined ? { kind: 'malformed' } : addresseeOf(jid, domain);
}

function addresseeOf(jid: Jid, domain: string): Addressee {
  if (jid.domain !== domain) return { kind: 'remote', jid };
  if (jid.local === undefined) return { kind: 'server' };
  return { kind: 'user', jid };
}

/**
 * RFC 6121 §8: the route of `stanza`. For a local user (`addressee(...).kind === 'user'`) the context must
 * carry that account's existence and resources; for every other addressee they are not read.
 *
 * Nothing here checks authorisation (who may send what to whom): blocking and subscription checks happen
 * before. A stanza that arrived over s2s must already be known to be addressed to a local domain (RFC 6120
 * §4.9.3.6 host-unknown, §4.9.3.7 improper-addressing): `remote` for one of those would be relaying.
 */
export function route<R extends ResourceRecord>(stanza: Element, ctx: RoutingContext<R>): Route<R> {
  const kind = classify(stanza);
  if (kind === undefined) return DROP;
  if (kind === 'invalid') return BAD_REQUEST;
  const target = addressee(stanza, ctx.domain);
  switch (target.kind) {
    case 'malformed':
      return isAnswer(kind) ? DROP : JID_MALFORMED;
    case 'server':
      return SERVER;
    case 'remote':
      return REMOTE;
    case 'user': {
      if (!ctx.accountExists) return noSuchUser(kind);
      const bare = target.jid.bare().toString();
      const prefix = `${bare}/`;
      const own = ctx.resources.filter((resource) => resource.jid.startsWith(prefix));
      return target.jid.resource === undefined
        ? toBareJid(kind, own)
        : toFullJid(kind, own, target.jid.toString());
    }
  }
}

/** §8.5.1: the account does not exist. */
function noSuchUser(stanza: Stanza): Route<never> {
  switch (stanza.name) {
    case 'iq':
      return isAnswer(stanza) ? DROP : SERVICE_UNAVAILABLE;
    case 'message':
      // Option (b): tell the sender; an error message is never answered (RFC 6120 §8.3.1).
      return stanza.type === 'error' ? DROP : SERVICE_UNAVAILABLE;
    case 'presence':
      // Available, unavailable and subscription types must be ignored; for probes option (a).
      return DROP;
  }
}

/** §8.5.2: `localpart@domainpart`, the account exists. */
function toBareJid<R extends ResourceRecord>(stanza: Stanza, resources: readonly R[]): Route<R> {
  switch (stanza.name) {
    case 'message':
      return messageToBareJid(stanza.type, resources);
    case 'presence': {
      // §8.5.2.1.2 / §8.5.2.2.2: subscription states live on the server (§3), probes are answered by it (§4.3).
      if (SUBSCRIPTION_TYPES.has(stanza.type) || stanza.type === 'probe') return SERVER;
      // Available and unavailable go to every available resource, whatever its priority; with none, the
      // stanza is ignored (§8.5.2.2.2), not stored. §8.5.2 is silent on presence errors: they are treated
      // like unavailable presence, so a bounced subscription or directed presence reaches the user's clients.
      const available = resources.filter((resource) => resource.available);
      return available.length > 0 ? { kind: 'deliver', to: available } : DROP;
    }
    case 'iq':
      // §8.5.2.1.3 / §8.5.2.2.3: the server answers on behalf of the account, never a resource.
      return SERVER;
  }
}

/** §8.5.2.1.1 (some resource is eligible) and §8.5.2.2.1 (none is). */
function messageToBareJid<R extends ResourceRecord>(type: MessageType, resources: readonly R[]): Route<R> {
  switch (type) {
    case 'error':
      return DROP;
    case 'groupchat':
      return SERVICE_UNAVAILABLE;
    case 'headline': {
      // §4.7.2.3: a negative priority opts a resource out of messages to the bare JID.
      const eligible = resources.filter(isEligible);
      return eligible.length > 0 ? { kind: 'deliver', to: eligible } : DROP;
    }
    case 'chat':
    case 'normal': {
      const eligible = resources.filter(isEligible);
      if (eligible.length === 0) return OFFLINE;
      const highest = Math.max(...eligible.map((resource) => resource.priority));
      return { kind: 'deliver', to: eligible.filter((resource) => resource.priority === highest) };
    }
  }
}

/** Available with a non-negative priority: may receive messages addressed to the bare JID (§8.5.2.1.1). */
function isEligible(resource: ResourceRecord): boolean {
  return resource.available && resource.priority >= 0;
}

/** §8.5.3: `localpart@domainpart/resourcepart`, the account exists. */
function toFullJid<R extends ResourceRecord>(
  stanza: Stanza,
  resources: readonly R[],
  full: string,
): Route<R> {
  if (stanza.name === 'presence') {
    // §3.1.3 and its counterparts for the other subscription types: a subscription stanza to a full JID is
    // handled as if sent to the bare JID, matching resource or not. §4.3, §8.5.3.1: probes are the server's.
    if (SUBSCRIPTION_TYPES.has(stanza.type) || stanza.type === 'probe') return SERVER;
  }
  // §8.5.3.1: a bound resource ("available or connected") gets everything sent to it, even before its
  // initial presence: IQs, messages of every type, directed presence.
  const match = resources.find((resource) => resource.jid === full);
  if (match !== undefined) return { kind: 'deliver', to: [match] };
  switch (stanza.name) {
    case 'message':
      return messageToMissingResource(stanza.type, resources);
    case 'presence':
      // §8.5.3.2.2: available, unavailable (and errors) to a resource that is gone are ignored.
      return DROP;
    case 'iq':
      // §8.5.3.2.3; results and errors are never answered (RFC 6120 §8.2.3, §8.3.1).
      return isAnswer(stanza) ? DROP : SERVICE_UNAVAILABLE;
  }
}

/** §8.5.3.2.1: a message to a full JID with no such resource bound. */
function messageToMissingResource<R extends ResourceRecord>(
  type: MessageType,
  resources: readonly R[],
): Route<R> {
  switch (type) {
    case 'chat':
      // Option (a): as if sent to the bare JID, which stores it offline when no resource is eligible.
      return messageToBareJid('chat', resources);
    case 'normal':
    case 'groupchat':
      return SERVICE_UNAVAILABLE;
    case 'headline':
    case 'error':
      return DROP;
  }
}

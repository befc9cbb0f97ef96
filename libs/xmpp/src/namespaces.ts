/**
 * The XML namespaces a c2s server speaks, in one place. Keys name what the namespace is for, not its
 * spelling: `STREAM` is the stream root (`http://etherx.jabber.org/streams`), `STREAM_ERROR` the
 * conditions inside `<stream:error/>` (`urn:ietf:params:xml:ns:xmpp-streams`).
 */
export const NS = Object.freeze({
  /** RFC 6120 §4.8.2: content namespace of client-to-server streams. */
  CLIENT: 'jabber:client',
  /** RFC 6120 §4.8.2: content namespace of server-to-server streams. */
  SERVER: 'jabber:server',
  /** RFC 6120 §4.8.1: the stream root and `<stream:features/>`, `<stream:error/>`. */
  STREAM: 'http://etherx.jabber.org/streams',
  /** RFC 6120 §4.9.2: stream error conditions and `<text/>`. */
  STREAM_ERROR: 'urn:ietf:params:xml:ns:xmpp-streams',
  /** RFC 6120 §8.3.2: stanza error conditions and `<text/>`. */
  STANZA_ERROR: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  /** RFC 6120 §5.4: STARTTLS. */
  TLS: 'urn:ietf:params:xml:ns:xmpp-tls',
  /** RFC 6120 §6.4: SASL. */
  SASL: 'urn:ietf:params:xml:ns:xmpp-sasl',
  /** RFC 6120 §7.4: resource binding. */
  BIND: 'urn:ietf:params:xml:ns:xmpp-bind',
  /** RFC 3921 §3 session establishment, kept as an optional no-op by RFC 6121 appendix E. */
  SESSION: 'urn:ietf:params:xml:ns:xmpp-session',
  /** RFC 7395 §3.3: `<open/>` and `<close/>` over WebSocket. */
  FRAMING: 'urn:ietf:params:xml:ns:xmpp-framing',
  /** XEP-0198: stream management. */
  SM: 'urn:xmpp:sm:3',
  /** XEP-0352: client state indication. */
  CSI: 'urn:xmpp:csi:0',
  /** XEP-0203: delayed delivery. */
  DELAY: 'urn:xmpp:delay',
  /** XEP-0199: XMPP ping. */
  PING: 'urn:xmpp:ping',
  /** XEP-0030: service discovery, info. */
  DISCO_INFO: 'http://jabber.org/protocol/disco#info',
  /** XEP-0030: service discovery, items. */
  DISCO_ITEMS: 'http://jabber.org/protocol/disco#items',
  /** RFC 6121 §2: roster management. */
  ROSTER: 'jabber:iq:roster',
  /** XEP-0280: message carbons. */
  CARBONS: 'urn:xmpp:carbons:2',
  /** XEP-0313: message archive management. */
  MAM: 'urn:xmpp:mam:2',
  /** XEP-0359: unique and stable stanza ids. */
  SID: 'urn:xmpp:sid:0',
  /** XEP-0297: stanza forwarding (MAM results, carbons). */
  FORWARD: 'urn:xmpp:forward:0',
  /** XEP-0059: result set management (paging). */
  RSM: 'http://jabber.org/protocol/rsm',
  /** XEP-0004: data forms. */
  DATA_FORMS: 'jabber:x:data',
  /** XEP-0122: data forms validation. */
  DATA_FORMS_VALIDATE: 'http://jabber.org/protocol/xdata-validate',
  /** XEP-0334: message processing hints (`<store/>`, `<no-store/>`, …). */
  HINTS: 'urn:xmpp:hints',
  /** XEP-0045: multi-user chat. */
  MUC: 'http://jabber.org/protocol/muc',
  /** XEP-0045: multi-user chat, `<x/>` in occupant presence and invitations. */
  MUC_USER: 'http://jabber.org/protocol/muc#user',
  /** XEP-0357: push notifications. */
  PUSH: 'urn:xmpp:push:0',
  /** XML 1.0 / Namespaces in XML §3: bound to the `xml` prefix (`xml:lang`) without a declaration. */
  XML: 'http://www.w3.org/XML/1998/namespace',
} as const);

export type Namespace = (typeof NS)[keyof typeof NS];

import { NS, canonicalJid, cloneElement, isMessageType, xml, type Element } from '@holdfast/xmpp';

/**
 * Which routed messages a user archive keeps (XEP-0313 §6.1.1, "User Archives"): what the user sends or
 * receives of type `chat` or `normal` (no type, or one RFC 6121 does not define, is `normal`: §5.2.2)
 * with a `<body/>` — the conversation. Beyond the XEP's SHOULD:
 * - a XEP-0334 `<store/>` hint archives a chat or normal message without a body; `<no-store/>` and
 *   `<no-permanent-store/>` keep any message out (XEP-0334 §4);
 * - never `error` (a failure report, not something a user said), `groupchat` (a room keeps its own
 *   archive, XEP-0313 §6.1.2; the XEP leaves user archives free not to), `headline` (notifications,
 *   which the XEP advises against);
 * - never a MAM result (a copy out of an archive) nor a XEP-0280 carbon wrapper (a copy of a message
 *   archived once already: an archive stores a message once, however many copies went out).
 */
export function isArchivable(message: Element): boolean {
  if (message.getName() !== 'message') return false;
  const type = message.attrs.type;
  if (type !== undefined && type !== 'chat' && type !== 'normal' && isMessageType(type)) return false;
  if (message.getChild('result', NS.MAM) !== undefined) return false;
  if (message.getChild('sent', NS.CARBONS) !== undefined) return false;
  if (message.getChild('received', NS.CARBONS) !== undefined) return false;
  if (message.getChild('no-store', NS.HINTS) !== undefined) return false;
  if (message.getChild('no-permanent-store', NS.HINTS) !== undefined) return false;
  return message.getChild('body') !== undefined || message.getChild('store', NS.HINTS) !== undefined;
}

/**
 * XEP-0359 §4 (rules 3 and 4): a stanza-id claiming to come from `by` — the recipient's own archive —
 * cannot have come from anywhere but this server, so one a client sent is forged (it would make §4 R7a
 * drop the message, or a client skip it as already archived). A copy without them; the same element
 * when there are none.
 */
export function withoutStanzaIdsBy(message: Element, by: string): Element {
  const owner = canonicalJid(by);
  const forged = (child: Element): boolean =>
    child.getName() === 'stanza-id' &&
    child.getNS() === NS.SID &&
    child.attrs.by !== undefined &&
    canonicalJid(child.attrs.by) === owner;
  if (!message.getChildElements().some(forged)) return message;
  const copy = cloneElement(message);
  copy.children = copy.children.filter((child) => typeof child === 'string' || !forged(child));
  return copy;
}

/** XEP-0313 §3.5: the message as delivered to the archive's user names its place in the archive. */
export function withStanzaId(message: Element, by: string, id: string): Element {
  const copy = cloneElement(message);
  copy.append(xml('stanza-id', { xmlns: NS.SID, by, id }));
  return copy;
}

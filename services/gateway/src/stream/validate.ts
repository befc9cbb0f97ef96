import {
  isIqType,
  isPresenceType,
  JidError,
  StreamError,
  cloneElement,
  errorReply,
  parseJid,
  type Element,
  type Jid,
} from '@holdfast/xmpp';

export type Checked =
  | { readonly kind: 'ok'; readonly stanza: Element }
  /** Answer the client with this error reply (undefined: drop, e.g. an error to an error). */
  | { readonly kind: 'reply'; readonly stanza: Element | undefined }
  | { readonly kind: 'stream-error'; readonly error: StreamError };

/**
 * Checks a stanza from a bound client and stamps its `from` with the client's full JID (RFC 6120
 * §8.1.2.1). Pure: the returned stanza is a copy. Rules:
 * - `from`, when present, must be the client's full or bare JID, else stream error `invalid-from`;
 * - `to` must be a valid JID, else `jid-malformed` (§8.3.3.8), normalised otherwise;
 * - iq: `id` required, `type` one of get/set/result/error, get/set with exactly one child (§8.2.3),
 *   else `bad-request`;
 * - presence: a known `type` (RFC 6121 §4.7.1), else `bad-request`. Unknown message types are normal.
 */
export function validateClientStanza(stanza: Element, jid: Jid): Checked {
  const from = stanza.attrs.from;
  if (from !== undefined) {
    let claimed: Jid;
    try {
      claimed = parseJid(from);
    } catch {
      return { kind: 'stream-error', error: new StreamError('invalid-from') };
    }
    if (!claimed.equals(jid) && !(claimed.isBare && claimed.equals(jid.bare()))) {
      return { kind: 'stream-error', error: new StreamError('invalid-from') };
    }
  }
  const stamped = stamp(stanza, jid);
  const bad = (text: string): Checked => ({
    kind: 'reply',
    stanza: errorReply(stamped, { type: 'modify', condition: 'bad-request', text }),
  });
  if (stanza.attrs.to !== undefined) {
    try {
      stamped.attrs.to = parseJid(stanza.attrs.to).toString();
    } catch (error) {
      if (!(error instanceof JidError)) throw error;
      return { kind: 'reply', stanza: errorReply(stamped, { type: 'modify', condition: 'jid-malformed' }) };
    }
  }
  if (stanza.name === 'iq') {
    const type = stanza.attrs.type ?? '';
    if (stanza.attrs.id === undefined || stanza.attrs.id === '') return bad('iq needs an id');
    if (!isIqType(type)) return bad(`iq type must be get, set, result or error`);
    if ((type === 'get' || type === 'set') && stanza.getChildElements().length !== 1) {
      return bad('iq get/set needs exactly one child');
    }
  }
  if (stanza.name === 'presence' && stanza.attrs.type !== undefined && !isPresenceType(stanza.attrs.type)) {
    return bad('unknown presence type');
  }
  return { kind: 'ok', stanza: stamped };
}

function stamp(stanza: Element, jid: Jid): Element {
  const copy = cloneElement(stanza);
  copy.attrs.from = jid.toString();
  return copy;
}

import { NS, errorReply, xml, type Element, type Jid } from '@holdfast/xmpp';

import { MAM_EXTENDED } from './mam/results.js';

/** What the server says about itself in service discovery (XEP-0030). */
const FEATURES = [NS.DISCO_INFO, NS.DISCO_ITEMS, NS.PING, NS.ROSTER];

/**
 * IQ get/set the server answers itself: addressed to the domain, or to the user's own account where no
 * other handler took it (RFC 6120 §8.4: unknown → `service-unavailable`). `mam`: message archives are on
 * (XEP-0313), advertised on the account's bare JID (§7) and private to it (§8.1). Pure.
 */
export function serverIq(
  iq: Element,
  context: { readonly domain: string; readonly jid: Jid; readonly mam: boolean },
): Element | undefined {
  const payload = iq.getChildElements()[0];
  const to = iq.attrs.to ?? context.jid.bare().toString();
  const result = (...children: Element[]): Element =>
    xml('iq', { type: 'result', id: iq.attrs.id, from: to, to: iq.attrs.from }, ...children);
  const toDomain = to === context.domain;
  const toOwnAccount = to === context.jid.bare().toString();
  const ns = payload?.attrs.xmlns;
  if (payload !== undefined && iq.attrs.type === 'get') {
    // XEP-0199 §4.1 (server ping) and §4.3 (a ping to the user's own bare JID is answered by the server).
    if (payload.name === 'ping' && ns === NS.PING) return result();
    if (payload.name === 'query' && ns === NS.DISCO_INFO && payload.attrs.node === undefined) {
      if (toDomain) {
        return result(
          discoInfo(xml('identity', { category: 'server', type: 'im', name: 'Holdfast' }), FEATURES),
        );
      }
      // XEP-0030 §3.1 on the user's own account; XEP-0313 §7 and XEP-0359: the archive lives there.
      if (toOwnAccount) {
        return result(
          discoInfo(
            xml('identity', { category: 'account', type: 'registered' }),
            context.mam ? [NS.DISCO_INFO, NS.MAM, MAM_EXTENDED, NS.SID] : [NS.DISCO_INFO],
          ),
        );
      }
    }
    if (toDomain && payload.name === 'query' && ns === NS.DISCO_ITEMS) {
      return result(xml('query', { xmlns: NS.DISCO_ITEMS }));
    }
  }
  // XEP-0313 §8.1: an archive is its user's alone. `forbidden` tells no more than a message would: an
  // account that does not exist answers messages with `service-unavailable` (RFC 6121 §8.5.1).
  if (context.mam && ns === NS.MAM && !toDomain && !toOwnAccount) {
    return errorReply(iq, { type: 'auth', condition: 'forbidden' });
  }
  return errorReply(iq, { type: 'cancel', condition: 'service-unavailable' });
}

function discoInfo(identity: Element, features: readonly string[]): Element {
  return xml(
    'query',
    { xmlns: NS.DISCO_INFO },
    identity,
    ...features.map((feature) => xml('feature', { var: feature })),
  );
}

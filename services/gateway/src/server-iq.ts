import { NS, errorReply, xml, type Element, type Jid } from '@holdfast/xmpp';

/** What the server says about itself in service discovery (XEP-0030). */
const FEATURES = [NS.DISCO_INFO, NS.DISCO_ITEMS, NS.PING, NS.ROSTER];

/**
 * IQ get/set the server answers itself: addressed to the domain, or to the user's own account where no
 * other handler took it (RFC 6120 §8.4: unknown → `service-unavailable`). Pure.
 */
export function serverIq(
  iq: Element,
  context: { readonly domain: string; readonly jid: Jid },
): Element | undefined {
  const payload = iq.getChildElements()[0];
  const to = iq.attrs.to ?? context.jid.bare().toString();
  const result = (...children: Element[]): Element =>
    xml('iq', { type: 'result', id: iq.attrs.id, from: to, to: iq.attrs.from }, ...children);
  const toDomain = to === context.domain;
  if (payload !== undefined && iq.attrs.type === 'get') {
    const ns = payload.attrs.xmlns;
    // XEP-0199 §4.1 (server ping) and §4.3 (a ping to the user's own bare JID is answered by the server).
    if (payload.name === 'ping' && ns === NS.PING) return result();
    if (toDomain && payload.name === 'query' && ns === NS.DISCO_INFO && payload.attrs.node === undefined) {
      return result(
        xml(
          'query',
          { xmlns: NS.DISCO_INFO },
          xml('identity', { category: 'server', type: 'im', name: 'Holdfast' }),
          ...FEATURES.map((feature) => xml('feature', { var: feature })),
        ),
      );
    }
    if (toDomain && payload.name === 'query' && ns === NS.DISCO_ITEMS) {
      return result(xml('query', { xmlns: NS.DISCO_ITEMS }));
    }
  }
  return errorReply(iq, { type: 'cancel', condition: 'service-unavailable' });
}

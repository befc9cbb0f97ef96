import { NS } from './namespaces.js';
import { cloneElement, xml, type Element } from './xml.js';

/**
 * XEP-0203: a copy of `stanza` stamped with when `from` first held it, unless it already carries a delay
 * (a stanza delayed earlier keeps its original stamp). The stamp is UTC with milliseconds (XEP-0082).
 */
export function withDelay(stanza: Element, from: string, at: Date): Element {
  const copy = cloneElement(stanza);
  if (stanza.getChildElements().some((child) => child.getNS() === NS.DELAY)) return copy;
  copy.append(xml('delay', { xmlns: NS.DELAY, from, stamp: at.toISOString() }));
  return copy;
}

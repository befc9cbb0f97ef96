import { NS, xml, type Element } from '@holdfast/xmpp';

import type { Page } from './page-plan.js';
import { FORM_FIELDS } from './query.js';

/** XEP-0313 §7: the optional fields, flipped pages and archive metadata. */
export const MAM_EXTENDED = `${NS.MAM}#extended`;

/** One archived message, as a result carries it. */
export interface ArchivedMessage {
  readonly id: string;
  readonly at: Date;
  readonly message: Element;
}

/** The archive (a bare JID) a query was for, the query, and who gets the answer. */
export interface Answering {
  readonly archive: string;
  readonly iq: Element;
  readonly queryId: string | undefined;
}

/**
 * XEP-0313 §4.2: one result, the original message forwarded (XEP-0297) with the time it was archived
 * (XEP-0203). Its `id` is the archive id: unique per result, and the same whenever it is sent again.
 */
export function resultMessage(answering: Answering, item: ArchivedMessage): Element {
  return xml(
    'message',
    { from: answering.archive, to: answering.iq.attrs.from, id: item.id },
    xml(
      'result',
      { xmlns: NS.MAM, queryid: answering.queryId, id: item.id },
      xml(
        'forwarded',
        { xmlns: NS.FORWARD },
        xml('delay', { xmlns: NS.DELAY, stamp: item.at.toISOString() }),
        item.message,
      ),
    ),
  );
}

/** XEP-0313 §4: the iq result after the results: `<fin/>` with the page's RSM set (XEP-0059 §2). */
export function finReply(answering: Answering, page: Page<{ readonly id: string }>): Element {
  return fin(answering, page.complete, [
    page.first === undefined ? null : xml('first', {}, page.first),
    page.last === undefined ? null : xml('last', {}, page.last),
  ]);
}

/** XEP-0059 §2.6: `<max>0</max>` asks for the number of matching items only. */
export function countReply(answering: Answering, count: number): Element {
  return fin(answering, count === 0, [xml('count', {}, String(count))]);
}

function fin(answering: Answering, complete: boolean, set: (Element | null)[]): Element {
  return result(
    answering,
    xml(
      'fin',
      { xmlns: NS.MAM, complete: complete ? 'true' : 'false' },
      xml('set', { xmlns: NS.RSM }, ...set),
    ),
  );
}

/** XEP-0313 §4.1.5: an iq get on the query returns the fields a query may use. */
export function formReply(answering: Answering): Element {
  return result(
    answering,
    xml(
      'query',
      { xmlns: NS.MAM },
      xml(
        'x',
        { xmlns: NS.DATA_FORMS, type: 'form' },
        xml('field', { type: 'hidden', var: 'FORM_TYPE' }, xml('value', {}, NS.MAM)),
        ...FORM_FIELDS.map((field) =>
          xml(
            'field',
            { type: field.type, var: field.var },
            // §4.1.5: `ids` is open to any value (XEP-0122), never a list of every id.
            field.type === 'list-multi'
              ? xml('validate', { xmlns: NS.DATA_FORMS_VALIDATE, datatype: 'xs:string' }, xml('open'))
              : null,
          ),
        ),
      ),
    ),
  );
}

/** XEP-0313 §5: the archive's first and last entries; none when it is empty. */
export function metadataReply(
  answering: Answering,
  first: ArchivedMessage | undefined,
  last: ArchivedMessage | undefined,
): Element {
  const entry = (name: string, item: ArchivedMessage | undefined): Element | null =>
    item === undefined ? null : xml(name, { id: item.id, timestamp: item.at.toISOString() });
  return result(answering, xml('metadata', { xmlns: NS.MAM }, entry('start', first), entry('end', last)));
}

function result(answering: Answering, payload: Element): Element {
  const { iq, archive } = answering;
  return xml('iq', { type: 'result', id: iq.attrs.id, from: archive, to: iq.attrs.from }, payload);
}

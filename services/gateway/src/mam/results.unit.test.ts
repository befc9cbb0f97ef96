import { NS, xml, type Element } from '@holdfast/xmpp';
import { describe, expect, it } from 'vitest';

import {
  countReply,
  finReply,
  formReply,
  metadataReply,
  resultMessage,
  type Answering,
  type ArchivedMessage,
} from './results.js';

const ALICE = 'alice@example.com';
const PHONE = `${ALICE}/phone`;
const AT = new Date('2026-03-01T12:00:00.123Z');

const iq = (id: string, child: Element): Element => xml('iq', { type: 'set', id, from: PHONE }, child);
const answering: Answering = {
  archive: ALICE,
  iq: iq('q1', xml('query', { xmlns: NS.MAM })),
  queryId: 'f27',
};

const archived: ArchivedMessage = {
  id: 'id-1',
  at: AT,
  message: xml(
    'message',
    { xmlns: NS.CLIENT, from: 'bob@example.com/desk', to: PHONE, type: 'chat', id: 'm1' },
    xml('body', {}, 'hi'),
  ),
};

describe('MAM results (XEP-0313 §4.2)', () => {
  it('forwards the archived message with its archive time, from the archive to the asking resource', () => {
    const result = resultMessage(answering, archived);
    expect(result.attrs).toEqual({ from: ALICE, to: PHONE, id: 'id-1' });
    const wrapper = result.getChild('result', NS.MAM);
    expect(wrapper?.attrs).toEqual({ xmlns: NS.MAM, queryid: 'f27', id: 'id-1' });
    const forwarded = wrapper?.getChild('forwarded', NS.FORWARD);
    expect(forwarded?.getChild('delay', NS.DELAY)?.attrs.stamp).toBe('2026-03-01T12:00:00.123Z');
    const original = forwarded?.getChild('message', NS.CLIENT);
    expect(original?.attrs.id).toBe('m1');
    expect(original?.getChildText('body')).toBe('hi');
  });

  it('leaves queryid out when the query had none', () => {
    const result = resultMessage({ ...answering, queryId: undefined }, archived);
    expect(result.getChild('result', NS.MAM)?.attrs.queryid).toBeUndefined();
  });

  it('ends with <fin/>: the RSM first and last of the page and whether it is complete', () => {
    const reply = finReply(answering, { items: [], first: 'a', last: 'c', complete: false });
    expect(reply.attrs).toEqual({ type: 'result', id: 'q1', from: ALICE, to: PHONE });
    const fin = reply.getChild('fin', NS.MAM);
    expect(fin?.attrs.complete).toBe('false');
    const set = fin?.getChild('set', NS.RSM);
    expect(set?.getChildText('first')).toBe('a');
    expect(set?.getChildText('last')).toBe('c');
  });

  it('sends an empty set for an empty page', () => {
    const reply = finReply(answering, { items: [], first: undefined, last: undefined, complete: true });
    const fin = reply.getChild('fin', NS.MAM);
    expect(fin?.attrs.complete).toBe('true');
    expect(fin?.getChild('set', NS.RSM)?.getChildElements()).toEqual([]);
  });

  it('answers max 0 with the count only (XEP-0059 §2.6)', () => {
    const set = countReply(answering, 7).getChild('fin', NS.MAM)?.getChild('set', NS.RSM);
    expect(set?.getChildElements().map((child) => child.name)).toEqual(['count']);
    expect(set?.getChildText('count')).toBe('7');
  });

  it('lists the supported fields for an iq get (§4.1.5), ids open-ended', () => {
    const x = formReply(answering).getChild('query', NS.MAM)?.getChild('x', NS.DATA_FORMS);
    expect(x?.attrs.type).toBe('form');
    const fields = x?.getChildren('field') ?? [];
    expect(fields.map((f) => [f.attrs.var, f.attrs.type])).toEqual([
      ['FORM_TYPE', 'hidden'],
      ['with', 'jid-single'],
      ['start', 'text-single'],
      ['end', 'text-single'],
      ['after-id', 'text-single'],
      ['before-id', 'text-single'],
      ['ids', 'list-multi'],
    ]);
    expect(fields[0]?.getChildText('value')).toBe(NS.MAM);
    expect(fields.every((f) => f.getChild('required') === undefined)).toBe(true);
    expect(fields[6]?.getChild('validate', NS.DATA_FORMS_VALIDATE)?.getChild('open')).toBeDefined();
  });

  it('describes the archive ends as metadata (§5), nothing for an empty archive', () => {
    const metadata = metadataReply(answering, archived, { ...archived, id: 'id-9' }).getChild(
      'metadata',
      NS.MAM,
    );
    expect(metadata?.getChild('start')?.attrs).toEqual({ id: 'id-1', timestamp: AT.toISOString() });
    expect(metadata?.getChild('end')?.attrs.id).toBe('id-9');
    const empty = metadataReply(answering, undefined, undefined).getChild('metadata', NS.MAM);
    expect(empty?.getChildElements()).toEqual([]);
  });
});

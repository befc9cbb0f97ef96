import { NS, xml, type Element, type XmlChild } from '@holdfast/xmpp';
import { describe, expect, it } from 'vitest';

import { parseDateTime, parseQuery, type MamQuery } from './query.js';

function field(name: string, ...values: string[]): Element {
  return xml('field', { var: name }, ...values.map((value) => xml('value', {}, value)));
}

function form(...fields: Element[]): Element {
  return xml('x', { xmlns: NS.DATA_FORMS, type: 'submit' }, field('FORM_TYPE', NS.MAM), ...fields);
}

function set(...children: XmlChild[]): Element {
  return xml('set', { xmlns: NS.RSM }, ...children);
}

function query(attrs: Record<string, string>, ...children: XmlChild[]): Element {
  return xml('query', { xmlns: NS.MAM, ...attrs }, ...children);
}

function parsed(element: Element): MamQuery {
  const result = parseQuery(element);
  if (result.kind !== 'query') throw new Error(`refused: ${JSON.stringify(result.error)}`);
  return result.query;
}

function refusal(element: Element): string {
  const result = parseQuery(element);
  if (result.kind !== 'error') throw new Error('accepted');
  return result.error.condition;
}

describe('parseQuery (XEP-0313 §4, XEP-0059)', () => {
  it('reads an empty query as everything, from the start, in the default page', () => {
    expect(parsed(query({}))).toEqual({
      queryId: undefined,
      with: undefined,
      startMs: undefined,
      endMs: undefined,
      afterId: undefined,
      beforeId: undefined,
      ids: undefined,
      max: undefined,
      after: undefined,
      before: undefined,
      flip: false,
    });
  });

  it('reads every form field and the RSM set', () => {
    const q = parsed(
      query(
        { queryid: 'q1' },
        form(
          field('with', 'Bob@Example.com/Desk'),
          field('start', '2026-03-01T12:00:00Z'),
          field('end', '2026-03-01T13:00:00.250+01:00'),
          field('after-id', 'a1'),
          field('before-id', 'b1'),
          field('ids', 'i1', 'i2'),
        ),
        set(xml('max', {}, '10'), xml('after', {}, 'r1')),
        xml('flip-page', { xmlns: NS.MAM }),
      ),
    );
    expect(q).toEqual({
      queryId: 'q1',
      with: { bare: 'bob@example.com', full: 'bob@example.com/Desk' },
      startMs: Date.parse('2026-03-01T12:00:00Z'),
      endMs: Date.parse('2026-03-01T12:00:00.250Z'),
      afterId: 'a1',
      beforeId: 'b1',
      ids: ['i1', 'i2'],
      max: 10,
      after: 'r1',
      before: undefined,
      flip: true,
    });
  });

  it('takes a bare with as bare, and fields without a value as absent', () => {
    const q = parsed(query({}, form(field('with', 'bob@example.com'), field('start'))));
    expect(q.with).toEqual({ bare: 'bob@example.com' });
    expect(q.startMs).toBeUndefined();
  });

  it('reads an empty <before/> as the last page', () => {
    expect(parsed(query({}, set(xml('max', {}, '5'), xml('before')))).before).toBe('');
  });

  it('keeps start and end inclusive at millisecond precision', () => {
    const q = parsed(
      query({}, form(field('start', '2026-03-01T12:00:00.0001Z'), field('end', '2026-03-01T12:00:00.9999Z'))),
    );
    expect(q.startMs).toBe(Date.parse('2026-03-01T12:00:00.001Z'));
    expect(q.endMs).toBe(Date.parse('2026-03-01T12:00:00.999Z'));
  });

  it.each([
    ['a with that is no JID', query({}, form(field('with', '@nope')))],
    ['a date that is no DateTime', query({}, form(field('start', 'yesterday')))],
    ['a date without a zone', query({}, form(field('end', '2026-03-01T12:00:00')))],
    ['February 30th', query({}, form(field('start', '2026-02-30T12:00:00Z')))],
    ['two values for one', query({}, form(field('with', 'a@example.com', 'b@example.com')))],
    [
      'another FORM_TYPE',
      query({}, xml('x', { xmlns: NS.DATA_FORMS, type: 'submit' }, field('FORM_TYPE', 'urn:other'))),
    ],
    ['a form that is not submitted', query({}, xml('x', { xmlns: NS.DATA_FORMS, type: 'cancel' }))],
    ['a field without var', query({}, form(xml('field', {}, xml('value', {}, 'x'))))],
    ['an empty after-id', query({}, form(field('after-id', '')))],
    ['an empty id in ids', query({}, form(field('ids', 'a', '')))],
    ['a negative max', query({}, set(xml('max', {}, '-1')))],
    ['a max that is no number', query({}, set(xml('max', {}, 'ten')))],
    ['an empty <after/>', query({}, set(xml('after')))],
  ])('refuses %s with bad-request', (_what, element) => {
    expect(refusal(element)).toBe('bad-request');
  });

  it.each([
    ['an unknown field (§4.1.5 MUST)', query({}, form(field('include-groupchat', 'true')))],
    ['paging by index', query({}, set(xml('index', {}, '3')))],
    ['a pubsub node archive', query({ node: 'urn:xmpp:microblog:0' })],
  ])('refuses %s with feature-not-implemented', (_what, element) => {
    expect(refusal(element)).toBe('feature-not-implemented');
  });
});

describe('parseDateTime (XEP-0082)', () => {
  it.each([
    ['2026-03-01T12:00:00Z', Date.parse('2026-03-01T12:00:00Z'), true],
    ['2026-03-01T12:00:00.5Z', Date.parse('2026-03-01T12:00:00.500Z'), true],
    ['2026-03-01T12:00:00.123456Z', Date.parse('2026-03-01T12:00:00.123Z'), false],
    ['2026-03-01T12:00:00.123000Z', Date.parse('2026-03-01T12:00:00.123Z'), true],
    ['2026-03-01T12:00:00-05:30', Date.parse('2026-03-01T17:30:00Z'), true],
    ['1969-12-31T23:59:59Z', -1000, true],
  ])('%s', (text, ms, exact) => {
    expect(parseDateTime(text)).toEqual({ ms, exact });
  });

  it.each([
    '2026-3-1T12:00:00Z',
    '2026-03-01 12:00:00Z',
    '2026-13-01T12:00:00Z',
    '2026-03-01T24:00:00Z',
    '2026-03-01T12:00:00+25:00',
    '',
  ])('refuses %j', (text) => {
    expect(parseDateTime(text)).toBeUndefined();
  });
});

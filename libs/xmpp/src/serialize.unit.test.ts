import { describe, expect, it } from 'vitest';

import { NS } from './namespaces.js';
import {
  STREAM_CLOSE,
  XmlSerializeError,
  closeElement,
  openElement,
  serialize,
  streamHeader,
} from './serialize.js';
import { StreamParser } from './stream-parser.js';
import type { StreamParserMode } from './stream-parser.js';
import { Element, xml } from './xml.js';

/** Parses `xml` as the only top-level element of a stream (or as a WebSocket message). */
function parseOne(text: string, mode: StreamParserMode = 'stream'): Element {
  const elements: Element[] = [];
  const parser = new StreamParser(
    {
      streamStart: () => undefined,
      element: (element) => elements.push(element),
      streamEnd: () => undefined,
      error: (error) => {
        throw error;
      },
    },
    { mode },
  );
  if (mode === 'stream') parser.write(streamHeader({ from: 'example.com', id: 's1' }));
  parser.write(text);
  expect(elements).toHaveLength(1);
  return elements[0] as Element;
}

const TRICKY = `<&>"' ]]> \u2028\u2029\u0085 \t\n\r\n\r tab\u{1F600} \u00e9 &amp; \uFFFD`;

describe('serialize', () => {
  it('round-trips markup characters, quotes, line breaks and U+2028 in text and attributes', () => {
    const original = xml(
      'message',
      { xmlns: NS.CLIENT, to: TRICKY, id: 'a\'b"c' },
      xml('body', {}, TRICKY),
      xml('x', { xmlns: 'urn:x', 'xml:lang': 'en' }, TRICKY, xml('y', {}), TRICKY),
    );
    const text = serialize(original);
    for (const mode of ['stream', 'framed'] as const) {
      const parsed = parseOne(text, mode);
      expect(parsed.attrs.to).toBe(TRICKY);
      expect(parsed.attrs.id).toBe('a\'b"c');
      expect(parsed.getChildText('body')).toBe(TRICKY);
      expect(parsed.getChild('x', 'urn:x')?.children).toEqual([TRICKY, expect.any(Element), TRICKY]);
      expect(serialize(parsed)).toBe(text);
    }
  });

  it('escapes what ltx toString() lets XML normalisation destroy', () => {
    const element = xml('a', { v: 'one\ntwo\tthree\rfour' }, 'five\r\nsix\r');
    expect(element.toString()).toBe('<a v="one\ntwo\tthree\rfour">five\r\nsix\r</a>');
    expect(parseOne(element.toString()).attrs.v).toBe('one two three four');
    expect(parseOne(element.toString()).getText()).toBe('five\nsix\n');

    expect(serialize(element)).toBe('<a v="one&#10;two&#9;three&#13;four">five&#13;\nsix&#13;</a>');
    expect(parseOne(serialize(element)).attrs.v).toBe('one\ntwo\tthree\rfour');
    expect(parseOne(serialize(element)).getText()).toBe('five\r\nsix\r');
  });

  it('writes empty elements short, skips nullish attributes and children', () => {
    const element = new Element('a', { b: '1' });
    element.attrs.c = undefined as unknown as string;
    element.children.push(null as unknown as string, 'x', undefined as unknown as string);
    expect(serialize(element)).toBe('<a b="1">x</a>');
    expect(serialize(xml('a', { b: null, c: 2 }))).toBe('<a c="2"/>');
    expect(serialize('a < b')).toBe('a &lt; b');
  });

  it.each([
    ['U+0000 in text', xml('a', {}, 'x\u0000')],
    ['U+FFFE in an attribute', xml('a', { b: '\uFFFE' })],
    ['a lone surrogate', xml('a', {}, '\uD800')],
    ['a form feed', xml('a', {}, '\f')],
  ])('refuses %s', (_, element) => {
    expect(() => serialize(element)).toThrow(expect.objectContaining({ code: 'HF_XML_INVALID_CHAR' }));
  });

  it.each([
    ['an element name with a space', new Element('a b')],
    ['an element name starting with a digit', new Element('1a')],
    ['an injected element name', new Element('a><script')],
    ['an attribute name with a quote', new Element('a', { 'b"': 'c' })],
    ['a name with two colons', new Element('a:b:c')],
    ['an empty name', new Element('')],
  ])('refuses %s', (_, element) => {
    expect(() => serialize(element)).toThrow(XmlSerializeError);
  });

  it('refuses an attribute value that is an object', () => {
    const element = new Element('a');
    (element.attrs as Record<string, unknown>).b = {};
    expect(() => serialize(element)).toThrow(expect.objectContaining({ code: 'HF_XML_INVALID_VALUE' }));
  });

  it('accepts non-ASCII names', () => {
    expect(serialize(new Element('caf\u00e9:\u00fcber', { '\u00e9t\u00e9': '1' }))).toBe(
      '<caf\u00e9:\u00fcber \u00e9t\u00e9="1"/>',
    );
  });
});

describe('xml', () => {
  it('does not touch the attrs object it is given, frozen or not', () => {
    const attrs = Object.freeze({ to: 'a@example.com', n: 3, gone: undefined });
    const element = xml('message', attrs, 'hi');
    expect(element.attrs).toEqual({ to: 'a@example.com', n: '3' });
    expect(attrs).toEqual({ to: 'a@example.com', n: 3, gone: undefined });
  });
});

describe('stream headers', () => {
  it('writes the TCP response header (RFC 6120 §4.7)', () => {
    expect(streamHeader({ from: 'im.example.com', id: '++TR84Sm6A3hnt3Q065SnAbbk3Y=', lang: 'en' })).toBe(
      "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'" +
        " from='im.example.com' id='++TR84Sm6A3hnt3Q065SnAbbk3Y=' version='1.0' xml:lang='en'>",
    );
    expect(
      streamHeader({
        from: 'a',
        id: 'b',
        to: 'juliet@im.example.com',
        contentNamespace: NS.SERVER,
        version: '1.0',
      }),
    ).toBe(
      "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
        " from='a' id='b' to='juliet@im.example.com' version='1.0'>",
    );
    expect(STREAM_CLOSE).toBe('</stream:stream>');
  });

  it('escapes header attributes, so a header our parser reads back is the header we meant', () => {
    const starts: Record<string, string>[] = [];
    const parser = new StreamParser({
      streamStart: (attrs) => starts.push({ ...attrs }),
      element: () => undefined,
      streamEnd: () => undefined,
      error: (error) => {
        throw error;
      },
    });
    parser.write(streamHeader({ from: "a'b<c>&\n", id: 'x"y' }) + STREAM_CLOSE);
    expect(starts).toEqual([{ from: "a'b<c>&\n", id: 'x"y', version: '1.0' }]);
    expect(() => streamHeader({ from: '\u0000', id: 'x' })).toThrow(XmlSerializeError);
  });

  it('writes the WebSocket <open/> and <close/> (RFC 7395 §3.4, §3.6)', () => {
    expect(serialize(openElement({ from: 'example.com', id: 'id1', lang: 'en' }))).toBe(
      '<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" from="example.com" id="id1" version="1.0" xml:lang="en"/>',
    );
    expect(serialize(closeElement())).toBe('<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>');
    expect(serialize(closeElement({ seeOtherUri: 'wss://other.example.com/ws' }))).toBe(
      '<close xmlns="urn:ietf:params:xml:ns:xmpp-framing" see-other-uri="wss://other.example.com/ws"/>',
    );
  });
});

describe('cloneElement', () => {
  it('copies deeply, so a change to the copy leaves the original alone', async () => {
    const { cloneElement, xml: build } = await import('./xml.js');
    const original = build('message', { to: 'a@b' }, build('body', {}, 'hi'));
    const copy = cloneElement(original);
    copy.attrs.to = 'c@d';
    copy.getChild('body')?.children.splice(0, 1, 'changed');
    expect(original.attrs.to).toBe('a@b');
    expect(original.getChildText('body')).toBe('hi');
    expect(copy.getChildText('body')).toBe('changed');
  });
});

describe('withDelay (XEP-0203)', () => {
  it('stamps a copy once and keeps an existing stamp', async () => {
    const { withDelay } = await import('./delay.js');
    const { xml: build } = await import('./xml.js');
    const at = new Date('2026-11-21T10:00:00.123Z');
    const message = build('message', { to: 'a@b' }, build('body', {}, 'hi'));
    const stamped = withDelay(message, 'b', at);
    expect(message.getChild('delay', NS.DELAY)).toBeUndefined();
    expect(stamped.getChild('delay', NS.DELAY)?.attrs).toMatchObject({
      from: 'b',
      stamp: '2026-11-21T10:00:00.123Z',
    });
    const again = withDelay(stamped, 'other', new Date(0));
    expect(again).not.toBe(stamped);
    expect(again.getChildren('delay', NS.DELAY).map((d) => d.attrs.from)).toEqual(['b']);
  });
});

import { describe, expect, it } from 'vitest';

import {
  attribute,
  childText,
  elementName,
  escapeXml,
  localName,
  StreamSplitter,
  unescapeXml,
} from './xml-stream-splitter.js';

const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='localhost' version='1.0'>";

describe('StreamSplitter', () => {
  it('finds the header, top-level elements and the stream end', () => {
    const splitter = new StreamSplitter();
    const events = splitter.push(
      `${HEADER}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features><r xmlns='urn:xmpp:sm:3'/></stream:stream>`,
    );
    expect(events.map((e) => e.kind)).toEqual(['open', 'element', 'element', 'close']);
    expect(events[1]).toEqual({
      kind: 'element',
      xml: "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
    });
    expect(events[2]).toEqual({ kind: 'element', xml: "<r xmlns='urn:xmpp:sm:3'/>" });
  });

  it('reassembles elements split at any byte', () => {
    const stanza =
      "<message to='a@localhost/r' id='m1' type='chat'><body>x &gt; y &amp; z</body><x a='1>2'/></message>";
    const text = `${HEADER}${stanza}<a xmlns='urn:xmpp:sm:3' h='3'/>`;
    for (let cut = 1; cut < text.length; cut += 1) {
      const splitter = new StreamSplitter();
      const events = [...splitter.push(text.slice(0, cut)), ...splitter.push(text.slice(cut))];
      expect(events).toEqual([
        { kind: 'open', tag: expect.stringContaining('<stream:stream') as unknown },
        { kind: 'element', xml: stanza },
        { kind: 'element', xml: "<a xmlns='urn:xmpp:sm:3' h='3'/>" },
      ]);
    }
  });

  it('treats a second stream header as a restart', () => {
    const splitter = new StreamSplitter();
    splitter.push(`${HEADER}<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`);
    const events = splitter.push(`${HEADER}<stream:features/>`);
    expect(events.map((e) => e.kind)).toEqual(['open', 'element']);
  });

  it('keeps nested elements of the same name together', () => {
    const splitter = new StreamSplitter();
    const stanza = '<message><message><body>in</body></message><body>out</body></message>';
    const events = splitter.push(`${HEADER}${stanza}`);
    expect(events[1]).toEqual({ kind: 'element', xml: stanza });
  });

  it('starts afresh after reset', () => {
    const splitter = new StreamSplitter();
    splitter.push(`${HEADER}<message><body>half`);
    splitter.reset();
    expect(splitter.push(`${HEADER}<iq id='1'/>`).map((e) => e.kind)).toEqual(['open', 'element']);
  });
});

describe('element helpers', () => {
  it('reads names, attributes in either quote style, and child text', () => {
    const xml = `<message from="a@localhost/x" id='m&amp;1' type='chat'><body>hi &lt;3</body></message>`;
    expect(elementName(xml)).toBe('message');
    expect(elementName('<stream:features/>')).toBe('stream:features');
    expect(localName('stream:features')).toBe('features');
    expect(attribute(xml, 'from')).toBe('a@localhost/x');
    expect(attribute(xml, 'id')).toBe('m&1');
    expect(attribute(xml, 'to')).toBeUndefined();
    expect(attribute("<a xmlns='urn:xmpp:sm:3' h='12'/>", 'h')).toBe('12');
    expect(childText(xml, 'body')).toBe('hi <3');
    expect(childText(xml, 'subject')).toBeUndefined();
  });

  it('only reads attributes of the opening tag', () => {
    expect(attribute("<iq type='result'><bind><jid id='x'/></bind></iq>", 'id')).toBeUndefined();
  });

  it('escapes and unescapes', () => {
    expect(escapeXml(`<a b="c" d='e'>&`)).toBe('&lt;a b=&quot;c&quot; d=&apos;e&apos;&gt;&amp;');
    expect(unescapeXml('&#65;&#x42;&amp;')).toBe('AB&');
  });
});

import { describe, expect, it } from 'vitest';

import { NS } from './namespaces.js';
import { serialize } from './serialize.js';
import type { StreamError, StreamErrorCondition } from './stream-error.js';
import { StreamParser } from './stream-parser.js';
import type { StreamParserOptions } from './stream-parser.js';
import type { Element } from './xml.js';

type Event =
  | ['start', Record<string, string>]
  | ['element', string]
  | ['end']
  | ['error', StreamErrorCondition, string | undefined];

interface Collector {
  parser: StreamParser;
  events: Event[];
  elements: Element[];
  errors: StreamError[];
  write(...chunks: (string | Uint8Array)[]): Collector;
}

function collect(
  options?: StreamParserOptions,
  onElement?: (element: Element, parser: StreamParser) => void,
) {
  const events: Event[] = [];
  const elements: Element[] = [];
  const errors: StreamError[] = [];
  const parser: StreamParser = new StreamParser(
    {
      streamStart: (attrs) => events.push(['start', { ...attrs }]),
      element: (element) => {
        elements.push(element);
        events.push(['element', serialize(element)]);
        onElement?.(element, parser);
      },
      streamEnd: () => events.push(['end']),
      error: (error) => {
        errors.push(error);
        events.push(['error', error.condition, error.text]);
      },
    },
    options,
  );
  const collector: Collector = {
    parser,
    events,
    elements,
    errors,
    write(...chunks) {
      for (const chunk of chunks) parser.write(chunk);
      return collector;
    },
  };
  return collector;
}

/** The condition of the only error, or undefined; fails the test on two errors. */
function conditionOf(
  input: string | Uint8Array,
  options?: StreamParserOptions,
): StreamErrorCondition | undefined {
  const { errors } = collect(options).write(input);
  expect(errors.length).toBeLessThanOrEqual(1);
  return errors[0]?.condition;
}

const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " +
  "xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' xml:lang='en'>";
const START: Event = ['start', { to: 'example.com', version: '1.0', 'xml:lang': 'en' }];

/** A stream exercising prefixes, entities, CDATA, CRLF and 2-, 3- and 4-byte UTF-8 sequences. */
const RICH =
  HEADER +
  "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>\r\n" +
  "  <message to='juliet@example.com' id='m&amp;1' type='chat'>" +
  '<body>caf\u00e9 \u20ac5 \u{1F600} &lt;b&gt; &#x1F600;&#233; <![CDATA[<raw & ]]]]><![CDATA[>]]>\r\nline</body>' +
  "<x:data xmlns:x='urn:example:x' x:kind='\u00e9' xml:lang='fr'><x:item/><plain xmlns=''/></x:data>" +
  '</message>\n\t' +
  "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>" +
  '</stream:stream>';

describe('StreamParser, stream mode', () => {
  it('reports the header, each top-level element and the end', () => {
    const { events } = collect().write(RICH);
    expect(events).toEqual([
      START,
      [
        'element',
        '<features xmlns="http://etherx.jabber.org/streams">' +
          '<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required/></starttls></features>',
      ],
      [
        'element',
        '<message xmlns="jabber:client" to="juliet@example.com" id="m&amp;1" type="chat">' +
          '<body>caf\u00e9 \u20ac5 \u{1F600} &lt;b&gt; \u{1F600}\u00e9 &lt;raw &amp; ]]&gt;\nline</body>' +
          '<data xmlns="urn:example:x" x:kind="\u00e9" xmlns:x="urn:example:x" xml:lang="fr">' +
          '<item/><plain xmlns=""/></data></message>',
      ],
      ['element', '<iq xmlns="jabber:client" type="get" id="p1"><ping xmlns="urn:xmpp:ping"/></iq>'],
      ['end'],
    ]);
  });

  it('names elements by local name and puts every namespace in xmlns', () => {
    const { elements } = collect().write(RICH);
    const [features, message] = elements;
    expect(features?.name).toBe('features');
    expect(features?.parent).toBeNull();
    expect(features?.is('features', NS.STREAM)).toBe(true);
    expect(features?.getChild('starttls', NS.TLS)?.getChild('required')?.getNS()).toBe(NS.TLS);
    expect(message?.is('message', NS.CLIENT)).toBe(true);
    expect(message?.getChildText('body')).toBe(
      'caf\u00e9 \u20ac5 \u{1F600} <b> \u{1F600}\u00e9 <raw & ]]>\nline',
    );
    const data = message?.getChild('data', 'urn:example:x');
    expect(data?.attrs).toEqual({
      xmlns: 'urn:example:x',
      'x:kind': '\u00e9',
      'xmlns:x': 'urn:example:x',
      'xml:lang': 'fr',
    });
    expect(data?.getChild('item', 'urn:example:x')).toBeDefined();
    expect(data?.getChild('plain')?.attrs).toEqual({ xmlns: '' });
  });

  it('keeps text exactly, including characters that look like markup or line breaks', () => {
    const text = ' <&>"\' \u2028\u0085 \t tab \u{10FFFF} ';
    const input = `${HEADER}<message><body> &lt;&amp;&gt;"' \u2028\u0085 \t tab \u{10FFFF} </body></message>`;
    const { elements } = collect().write(input);
    expect(elements[0]?.getChildText('body')).toBe(text);
  });

  it('accepts a prefixed content namespace and any prefix for the streams namespace', () => {
    const input =
      "<s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams' xmlns:c='jabber:client'>" +
      '<c:message><c:body>hi</c:body></c:message><s:features/>';
    expect(collect().write(input).events).toEqual([
      ['start', {}],
      ['element', '<message xmlns="jabber:client"><body>hi</body></message>'],
      ['element', '<features xmlns="http://etherx.jabber.org/streams"/>'],
    ]);
  });

  it('gives the same events however the bytes are cut, also inside UTF-8 sequences and entities', () => {
    const bytes = Buffer.from(RICH);
    const expected = collect().write(bytes).events;
    const emoji = bytes.indexOf(Buffer.from('\u{1F600}'));
    const entity = bytes.indexOf(Buffer.from('&#x1F600;'));
    expect(emoji).toBeGreaterThan(0);
    for (const cut of [emoji + 1, emoji + 2, emoji + 3, entity + 1, entity + 4]) {
      expect(collect().write(bytes.subarray(0, cut), bytes.subarray(cut)).events).toEqual(expected);
    }
    for (let cut = 1; cut < bytes.length; cut += 1) {
      const { events } = collect().write(bytes.subarray(0, cut), bytes.subarray(cut));
      expect(events, `cut at ${cut}`).toEqual(expected);
    }
    const byteByByte = collect();
    for (let i = 0; i < bytes.length; i += 1) byteByByte.write(bytes.subarray(i, i + 1));
    expect(byteByByte.events).toEqual(expected);
  });

  it('gives the same events for random three-way cuts and for string input', () => {
    const bytes = Buffer.from(RICH);
    const expected = collect().write(bytes).events;
    expect(collect().write(RICH).events).toEqual(expected);
    let seed = 7;
    const next = (bound: number): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % bound;
    for (let round = 0; round < 300; round += 1) {
      const [a, b] = [next(bytes.length), next(bytes.length)].sort((x, y) => x - y) as [number, number];
      const { events } = collect().write(bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b));
      expect(events).toEqual(expected);
    }
  });

  it('joins a surrogate pair split across two string writes', () => {
    const { elements, errors } = collect().write(`${HEADER}<a>\uD83D`, '\uDE00</a>');
    expect(errors).toEqual([]);
    expect(elements[0]?.getText()).toBe('\u{1F600}');
  });

  it('delivers what precedes bytes that are not UTF-8, as if the chunk had been cut before them', () => {
    const bytes = Buffer.concat([Buffer.from(`${HEADER}<a/><b>\u00e9`), Buffer.from([0xe2, 0x82, 0xff])]);
    const expected: Event[] = [
      START,
      ['element', '<a xmlns="jabber:client"/>'],
      ['error', 'not-well-formed', 'input is not UTF-8'],
    ];
    expect(collect().write(bytes).events).toEqual(expected);
    expect(collect().write(bytes.subarray(0, -2), bytes.subarray(-2)).events).toEqual(expected);
  });

  it('ignores whitespace between top-level elements, however much arrives', () => {
    const collector = collect().write(HEADER);
    const spaces = ' \n\t\r'.repeat(4096);
    for (let i = 0; i < 64; i += 1) collector.write(spaces);
    collector.write('<presence/>');
    expect(collector.events).toEqual([START, ['element', '<presence xmlns="jabber:client"/>']]);
  });

  it('accepts a UTF-8 byte order mark and an XML declaration only at the very start', () => {
    expect(collect().write(Buffer.from(`\uFEFF${HEADER}`)).events).toEqual([START]);
    expect(conditionOf(`\n${HEADER}`)).toBe('restricted-xml');
  });

  it('reads an XML 1.1 declaration as XML 1.0 (XML 1.0 §2.8) and accepts encoding UTF-8 only', () => {
    const body = HEADER.slice("<?xml version='1.0'?>".length);
    expect(conditionOf(`<?xml version='1.1'?>${body}`)).toBeUndefined();
    expect(conditionOf(`<?xml version='1.0' encoding='UTF-8'?>${body}`)).toBeUndefined();
    expect(conditionOf(`<?xml version='1.0' encoding='utf-8'?>${body}`)).toBeUndefined();
    expect(conditionOf(`<?xml version='1.0' encoding='ISO-8859-1'?>${body}`)).toBe('unsupported-encoding');
  });

  describe('restricted-xml (RFC 6120 §11.1)', () => {
    it.each([
      ['a DOCTYPE before the root', `<!DOCTYPE stream>${HEADER}`],
      ['a DOCTYPE with an internal subset', `<!DOCTYPE s [<!ENTITY a "b">]>${HEADER}`],
      ['a DOCTYPE inside the stream', `${HEADER}<!DOCTYPE x>`],
      ['a DOCTYPE inside a stanza', `${HEADER}<message><!DOCTYPE x></message>`],
      ['a processing instruction before the root', `<?xml version='1.0'?><?pi x?>${HEADER.slice(21)}`],
      ['a processing instruction between stanzas', `${HEADER}<?pi data?>`],
      ['a processing instruction inside a stanza', `${HEADER}<message><?pi?></message>`],
      ['a malformed processing instruction', `${HEADER}<message><? x?></message>`],
      ['an XML declaration later on', `${HEADER}<message><?xml version='1.0'?></message>`],
      ['a comment before the root', `<!-- hi -->${HEADER.slice(21)}`],
      ['a comment between stanzas', `${HEADER}<!-- hi -->`],
      ['a comment inside a stanza', `${HEADER}<message><!-- hi --></message>`],
      ['a malformed comment', `${HEADER}<message><!-- a -- b --></message>`],
      ['an undefined entity in text', `${HEADER}<message><body>&foo;</body></message>`],
      ['an undefined entity in an attribute', `${HEADER}<message to='&nbsp;'/>`],
      ['an undefined entity in the stream header', HEADER.replace("to='example.com'", "to='&x;'")],
    ])('rejects %s', (_, input) => {
      expect(conditionOf(input)).toBe('restricted-xml');
    });

    it('allows the five predefined entities and character references', () => {
      const { elements } = collect().write(
        `${HEADER}<message a='&quot;&apos;'>&amp;&lt;&gt;&#65;&#x42;</message>`,
      );
      expect(elements[0]?.attrs.a).toBe(`"'`);
      expect(elements[0]?.getText()).toBe('&<>AB');
    });
  });

  describe('not-well-formed', () => {
    it.each([
      ['mismatched end tags', `${HEADER}<message><body></message>`],
      ['a stray end tag', `${HEADER}</message>`],
      ['a bad element name', `${HEADER}<1message/>`],
      ['a bad attribute name', `${HEADER}<message 1a='x'/>`],
      ['an unquoted attribute', `${HEADER}<message a=x/>`],
      ['an unbound element prefix', `${HEADER}<foo:message/>`],
      ['an unbound attribute prefix', `${HEADER}<message foo:a='1'/>`],
      ['a duplicate attribute', `${HEADER}<message a='1' a='2'/>`],
      ['a duplicate expanded attribute name', `${HEADER}<m p:a='1' q:a='2' xmlns:p='u' xmlns:q='u'/>`],
      ['< in an attribute value', `${HEADER}<message a='<'/>`],
      [']]> in text', `${HEADER}<message>]]></message>`],
      ['a reference to U+0000', `${HEADER}<message>&#0;</message>`],
      ['a reference to a lone surrogate', `${HEADER}<message>&#xD800;</message>`],
      ['a reference to U+FFFE', `${HEADER}<message>&#xFFFE;</message>`],
      ['a malformed character reference', `${HEADER}<message>&#x;</message>`],
      ['a raw U+0000', `${HEADER}<message>\u0000</message>`],
      ['a raw U+0000 between stanzas', `${HEADER}<message/> \u0000`],
      ['a raw U+FFFF', `${HEADER}<message>\uFFFF</message>`],
      ['a lone surrogate in string input', `${HEADER}<message>\uD800a</message>`],
      ['text before the root', `hello${HEADER}`],
      ['text after the root', `${HEADER}</stream:stream>hello`],
      ['a second root', `${HEADER}</stream:stream><stream:stream>`],
      ['a malformed XML declaration', `<?xml version='2.0'?>${HEADER.slice(21)}`],
      ['a rebound xml prefix', `${HEADER}<message xmlns:xml='urn:x'/>`],
    ])('rejects %s', (_, input) => {
      expect(conditionOf(input)).toBe('not-well-formed');
    });

    it.each([
      ['0xFF', [0xff]],
      ['a truncated sequence followed by ASCII', [0xc3, 0x41]],
      ['an overlong encoding of <', [0xc0, 0xbc]],
      ['an encoded surrogate', [0xed, 0xa0, 0x80]],
      ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ])('rejects bytes that are not UTF-8: %s', (_, bytes) => {
      const input = Buffer.concat([
        Buffer.from(`${HEADER}<message>`),
        Buffer.from(bytes),
        Buffer.from('</message>'),
      ]);
      expect(conditionOf(input)).toBe('not-well-formed');
    });
  });

  describe('invalid-namespace (RFC 6120 §4.8)', () => {
    it.each([
      ['a root in no namespace', "<stream xmlns='jabber:client'>"],
      ['a root in the wrong namespace', "<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong'>"],
      [
        'a root with the wrong name',
        "<s:flow xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams'>",
      ],
      ['no default namespace', "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"],
      ['the streams namespace as default', "<stream xmlns='http://etherx.jabber.org/streams'>"],
      ['jabber:server on a c2s stream', HEADER.replace('jabber:client', 'jabber:server')],
    ])('rejects %s', (_, input) => {
      expect(conditionOf(input)).toBe('invalid-namespace');
    });

    it('takes the content namespace from the options', () => {
      const s2s = HEADER.replace('jabber:client', 'jabber:server');
      expect(conditionOf(s2s, { contentNamespace: NS.SERVER })).toBeUndefined();
      expect(conditionOf(HEADER, { contentNamespace: NS.SERVER })).toBe('invalid-namespace');
    });
  });

  describe('bad-format', () => {
    it('rejects character data between top-level elements, however the input is cut', () => {
      for (const junk of ['hello', '&amp;', '<![CDATA[x]]>', '<![CDATA[ ]]>']) {
        for (const input of [
          [`${HEADER}<a/> ${junk}<b/>`],
          [`${HEADER}<a/> `, `${junk}<b/>`],
          [HEADER, junk],
        ]) {
          const { events } = collect().write(...input);
          expect(events.at(-1)?.[1], junk).toBe('bad-format');
          expect(events.filter(([type]) => type === 'element').length).toBeLessThanOrEqual(1);
        }
      }
    });

    it('delivers the element before the junk that follows it, in one chunk or two', () => {
      const expected: Event[] = [
        START,
        ['element', '<a xmlns="jabber:client"/>'],
        ['error', 'bad-format', 'character data between top-level elements'],
      ];
      expect(collect().write(`${HEADER}<a/>junk<b/>`).events).toEqual(expected);
      expect(collect().write(`${HEADER}<a/>`, 'junk<b/>').events).toEqual(expected);
      expect(collect().write(`${HEADER}<a/>ju`, 'nk').events).toEqual(expected);
    });
  });

  it('never delivers an element closed by a mismatched end tag', () => {
    expect(collect().write(`${HEADER}<a></b>`).events).toEqual([
      START,
      ['error', 'not-well-formed', 'unexpected close tag.'],
    ]);
    expect(
      collect()
        .write(`${HEADER}<a></stream:stream>`)
        .events.map(([type]) => type),
    ).toEqual(['start', 'error']);
  });

  describe('policy-violation', () => {
    const stanza = `<message><body>${'\u00e9\u20ac'.repeat(40)}</body></message>`;
    const size = Buffer.byteLength(stanza);

    it('caps a top-level element at maxStanzaSize bytes, counted from < to >, cut anywhere', () => {
      const bytes = Buffer.from(`${HEADER}   \n${stanza}  `);
      for (const [max, condition] of [
        [size, undefined],
        [size - 1, 'policy-violation'],
      ] as const) {
        expect(conditionOf(bytes, { maxStanzaSize: max })).toBe(condition);
        const byteByByte = collect({ maxStanzaSize: max });
        for (let i = 0; i < bytes.length; i += 1) byteByByte.write(bytes.subarray(i, i + 1));
        expect(byteByByte.errors[0]?.condition).toBe(condition);
      }
    });

    it('stops reading an endless element soon after the cap', () => {
      const collector = collect({ maxStanzaSize: 65_536 }).write(HEADER, '<message><body>');
      const chunk = 'a'.repeat(1024);
      let written = 0;
      while (collector.errors.length === 0 && written < 4 * 1024 * 1024) {
        collector.write(chunk);
        written += chunk.length;
      }
      expect(collector.errors[0]?.condition).toBe('policy-violation');
      expect(written).toBeLessThanOrEqual(65_536 + 1024);
    });

    it('caps one huge chunk without parsing all of it', () => {
      const started = performance.now();
      expect(conditionOf(`${HEADER}<message><body>${'a'.repeat(8 * 1024 * 1024)}</body></message>`)).toBe(
        'policy-violation',
      );
      expect(performance.now() - started).toBeLessThan(1000);
    });

    it('caps the stream header and whatever follows the end of the stream', () => {
      const header = HEADER.replace("to='example.com'", `to='${'x'.repeat(300)}'`);
      expect(conditionOf(header, { maxStanzaSize: 256 })).toBe('policy-violation');
      expect(conditionOf(`${HEADER}</stream:stream><!--${'x'.repeat(1024)}`, { maxStanzaSize: 256 })).toBe(
        'policy-violation',
      );
    });

    it('caps nesting depth; the top-level element is at depth 1', () => {
      const nested = (depth: number): string => '<a>'.repeat(depth) + '</a>'.repeat(depth);
      expect(conditionOf(`${HEADER}${nested(64)}`)).toBeUndefined();
      expect(conditionOf(`${HEADER}${nested(65)}`)).toBe('policy-violation');
      expect(conditionOf(`${HEADER}${nested(3)}`, { maxDepth: 2 })).toBe('policy-violation');
      expect(conditionOf(`${HEADER}${'<a>'.repeat(10_000)}`)).toBe('policy-violation');
    });

    it('caps attributes per element and attribute value size', () => {
      const attributes = (count: number): string =>
        Array.from({ length: count }, (_, i) => ` a${i}='${i}'`).join('');
      expect(conditionOf(`${HEADER}<message${attributes(64)}/>`)).toBeUndefined();
      expect(conditionOf(`${HEADER}<message${attributes(65)}/>`)).toBe('policy-violation');
      expect(conditionOf(`${HEADER}<message a='${'\u00e9'.repeat(8192)}'/>`)).toBeUndefined();
      expect(conditionOf(`${HEADER}<message a='${'\u00e9'.repeat(8192)}x'/>`)).toBe('policy-violation');
      expect(conditionOf(`${HEADER}<message a='${'x'.repeat(1024 * 1024)}'/>`)).toBe('policy-violation');
      expect(conditionOf(`<stream:stream${attributes(65)}>`)).toBe('policy-violation');
    });
  });

  describe('after an error', () => {
    it('is dead: one error, nothing more, whatever comes next', () => {
      const collector = collect().write(
        `${HEADER}<a><!-- -->`,
        '<b/></a><c/>',
        '&foo; <?pi?>',
        '</stream:stream>',
      );
      expect(collector.events).toEqual([START, ['error', 'restricted-xml', 'comments are not allowed']]);
      expect(collector.parser.error?.condition).toBe('restricted-xml');
      collector.parser.reset();
      collector.write(HEADER);
      expect(collector.events).toHaveLength(2);
    });

    it('turns a throwing handler into internal-server-error without throwing from write()', () => {
      const failure = new Error('handler bug');
      const collector = collect(undefined, () => {
        throw failure;
      });
      expect(() => collector.write(`${HEADER}<a/><b/>`)).not.toThrow();
      expect(collector.errors).toHaveLength(1);
      expect(collector.errors[0]?.condition).toBe('internal-server-error');
      expect(collector.errors[0]?.cause).toBe(failure);
      expect(collector.elements).toHaveLength(1);
    });

    it('passes on an exception from the error handler itself, once', () => {
      const failure = new Error('error handler bug');
      const parser = new StreamParser({
        streamStart: () => undefined,
        element: () => undefined,
        streamEnd: () => undefined,
        error: () => {
          throw failure;
        },
      });
      expect(() => {
        parser.write(`${HEADER}<!-- -->`);
      }).toThrow(failure);
      expect(() => {
        parser.write('<a/>');
      }).not.toThrow();
    });
  });

  describe('reset (stream restart, RFC 6120 §4.3.3)', () => {
    it('expects a new stream header, XML declaration included', () => {
      const collector = collect().write(HEADER, '<a/>');
      collector.parser.reset();
      collector.write(HEADER, '<b/>');
      expect(collector.events).toEqual([
        START,
        ['element', '<a xmlns="jabber:client"/>'],
        START,
        ['element', '<b xmlns="jabber:client"/>'],
      ]);
    });

    it('from a handler, drops what followed in the same chunk (no STARTTLS injection)', () => {
      const collector = collect(undefined, (element, parser) => {
        if (element.is('starttls', NS.TLS)) parser.reset();
      });
      collector.write(
        `${HEADER}<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><message>injected</message>`,
      );
      collector.write(`${HEADER}<message>over tls</message>`);
      expect(collector.events).toEqual([
        START,
        ['element', '<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>'],
        START,
        ['element', '<message xmlns="jabber:client">over tls</message>'],
      ]);
    });
  });
});

describe('StreamParser, framed mode (RFC 7395)', () => {
  const framed = { mode: 'framed' } as const;
  const OPEN = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>";
  const CLOSE = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>";

  it('reads <open/>, one element per message, and <close/>', () => {
    const { events } = collect(framed).write(
      OPEN,
      Buffer.from("<message xmlns='jabber:client' to='a@example.com'><body>\u{1F600}</body></message>"),
      '<iq type="get" id="1"><ping xmlns="urn:xmpp:ping"/></iq>',
      "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
      ' \n ',
      OPEN,
      CLOSE,
    );
    expect(events).toEqual([
      ['start', { to: 'example.com', version: '1.0' }],
      ['element', '<message xmlns="jabber:client" to="a@example.com"><body>\u{1F600}</body></message>'],
      ['element', '<iq xmlns="jabber:client" type="get" id="1"><ping xmlns="urn:xmpp:ping"/></iq>'],
      [
        'element',
        '<error xmlns="http://etherx.jabber.org/streams">' +
          '<host-unknown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></error>',
      ],
      ['start', { to: 'example.com', version: '1.0' }],
      ['end'],
    ]);
  });

  it.each([
    ['two elements in one message', '<a/><b/>', 'not-well-formed'],
    ['half an element', '<message><body>', 'not-well-formed'],
    ['text after the element', '<a/>x', 'not-well-formed'],
    ['a mismatched end tag', '<a></b>', 'not-well-formed'],
    ['a comment', '<a><!-- x --></a>', 'restricted-xml'],
    [
      'an <open/> with content',
      "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'><a/></open>",
      'bad-format',
    ],
    ['a <close/> with text', "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'>x</close>", 'bad-format'],
    ['bytes that are not UTF-8', Buffer.from([0x3c, 0x61, 0xff, 0x2f, 0x3e]), 'not-well-formed'],
  ])('rejects %s', (_, message, condition) => {
    const { events } = collect(framed).write(message);
    expect(events).toEqual([['error', condition, expect.any(String)]]);
  });

  it('caps a message at maxStanzaSize bytes before parsing it', () => {
    const message = `<message><body>${'\u00e9'.repeat(100)}</body></message>`;
    const size = Buffer.byteLength(message);
    expect(conditionOf(message, { ...framed, maxStanzaSize: size })).toBeUndefined();
    expect(conditionOf(message, { ...framed, maxStanzaSize: size - 1 })).toBe('policy-violation');
    expect(conditionOf('<a>'.repeat(100), framed)).toBe('policy-violation');
  });

  it('queues a write made from inside a handler', () => {
    const collector = collect(framed, (element, parser) => {
      if (element.is('a')) parser.write('<b/>');
    });
    collector.write('<a/>');
    expect(collector.events).toEqual([
      ['element', '<a xmlns="jabber:client"/>'],
      ['element', '<b xmlns="jabber:client"/>'],
    ]);
  });
});

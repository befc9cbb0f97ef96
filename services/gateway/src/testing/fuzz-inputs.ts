import { NS, type StreamErrorCondition } from '@holdfast/xmpp';

/**
 * Hostile client input for fuzzing a live gateway, generated from a seed. Each case names the stage of
 * the stream it is fed at, the bytes, how they are cut into writes, and what the gateway must do with them.
 */

/** Mulberry32: small, seeded, reproducible; one per case so that concurrency cannot change the input. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** An integer in [0, bound). */
  int(bound: number): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * bound);
  }

  chance(percent: number): boolean {
    return this.int(100) < percent;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  bytes(length: number): Buffer {
    return Buffer.from(Array.from({ length }, () => this.int(256)));
  }
}

/**
 * Where in the stream the payload is fed: before any byte (`pre-header`), after the stream header was
 * answered with features (`features`), in the middle of a SCRAM exchange (`sasl`), after SASL success
 * and the stream restart (`authenticated`), after resource binding (`bound`); `tls-required` is the
 * features stage of a gateway that requires STARTTLS, which the client leaves out.
 */
export const STAGES = ['pre-header', 'features', 'sasl', 'authenticated', 'bound', 'tls-required'] as const;
export type Stage = (typeof STAGES)[number];

/**
 * What a connection came to, judged from what the server sent before any probe of ours:
 * - `stream-error:<condition>`: a stream error (then `</stream:stream>` and the close);
 * - `clean-close`: the server closed the stream in answer to the client's `</stream:stream>`;
 * - `tls`: the server said `<proceed/>` (what follows is TLS, or nothing);
 * - `open`: still open, possibly after stanza errors or SASL failures;
 * - `closed-silently`: the server closed without `</stream:stream>`: never right.
 */
export type Outcome =
  `stream-error:${StreamErrorCondition}` | 'clean-close' | 'tls' | 'open' | 'closed-silently';

export interface FuzzCase {
  readonly seed: number;
  readonly index: number;
  readonly stage: Stage;
  /** Generator name (with variant), for the outcome table and failure messages. */
  readonly kind: string;
  readonly payload: Buffer;
  /** `payload`, cut into the writes that carry it. */
  readonly chunks: readonly Buffer[];
  /** Outcomes allowed for this input; undefined: any outcome that keeps the protocol invariants. */
  readonly expect?: readonly Outcome[];
  /**
   * The payload is complete, well-formed top-level elements, so the stream is between elements after it:
   * a bound stream must then answer a ping, and any open stream must close cleanly on `</stream:stream>`.
   */
  readonly complete: boolean;
  /** A stanza error condition that must be among the replies. */
  readonly stanzaError?: string;
  /** A SASL failure must be among the replies. */
  readonly saslFailure?: boolean;
  /** Ids of iq requests in the payload that must each get a reply (result or error), in this order. */
  readonly replies?: readonly string[];
  /** A message to the bystander session that must reach it intact: its id and the body text it carries. */
  readonly forwarded?: { readonly id: string; readonly body: string };
}

export interface FuzzAccount {
  readonly domain: string;
  readonly username: string;
  readonly password: string;
}

const streamError = (condition: StreamErrorCondition): Outcome => `stream-error:${condition}`;

const XML_DECLARATION = "<?xml version='1.0'?>";

export function streamHeader(domain: string, extra = ''): string {
  return `<stream:stream to='${domain}' xmlns='jabber:client' xmlns:stream='${NS.STREAM}' version='1.0'${extra}>`;
}

export function clientHeader(domain: string): string {
  return XML_DECLARATION + streamHeader(domain);
}

export function plainAuth(account: FuzzAccount, password = account.password): string {
  const initial = Buffer.from(`\0${account.username}\0${password}`).toString('base64');
  return `<auth xmlns='${NS.SASL}' mechanism='PLAIN'>${initial}</auth>`;
}

export function scramFirst(account: FuzzAccount, nonce: string): string {
  const initial = Buffer.from(`n,,n=${account.username},r=${nonce}`).toString('base64');
  return `<auth xmlns='${NS.SASL}' mechanism='SCRAM-SHA-1'>${initial}</auth>`;
}

export function bindRequest(id: string, resource?: string): string {
  const inner = resource === undefined ? '' : `<resource>${resource}</resource>`;
  return `<iq type='set' id='${id}'><bind xmlns='${NS.BIND}'>${inner}</bind></iq>`;
}

export function pingRequest(id: string, to = 'localhost'): string {
  return `<iq type='get' id='${id}' to='${to}'><ping xmlns='${NS.PING}'/></iq>`;
}

/** Invalid UTF-8: stray continuation and lead bytes, overlong forms, surrogates, code points past U+10FFFF. */
const INVALID_UTF8 = [
  [0xff],
  [0xfe, 0xff],
  [0x80],
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xc3, 0x28],
  [0xe2, 0x28, 0xa1],
].map((bytes) => Buffer.from(bytes));

/** JIDs that RFC 7622 rejects, each for a different part. */
const BAD_JIDS = [
  'a@b@c',
  '@localhost',
  'user@',
  'user@localhost/',
  '/resource',
  'us er@localhost',
  'us"er@localhost',
  'a:b@localhost',
  `${'x'.repeat(1024)}@localhost`,
  `user@${'d'.repeat(1100)}`,
  'user@local..host',
  'user@[::1',
  'user@-bad-',
  'user@localhost:5222',
  `user@localhost/${'r'.repeat(1024)}`,
  '\u{1F600}@localhost',
];

/** Character data as written in XML, and what it stands for: escapes, references, CDATA, awkward code points. */
const TEXT_PIECES: readonly (readonly [string, string])[] = [
  ['plain', 'plain'],
  ['&amp;', '&'],
  ['&lt;stream:stream&gt;', '<stream:stream>'],
  ['>', '>'],
  [']]&gt;', ']]>'],
  ['&#13;', '\r'],
  ['&#x1F600;', '\u{1F600}'],
  ['\u{1F600}', '\u{1F600}'],
  ['\u2028', '\u2028'],
  ['&quot;"&apos;\'', `""''`],
  ['<![CDATA[</message></stream:stream>&]]>', '</message></stream:stream>&'],
  ['\t', '\t'],
  ['&#xA0;', '\u00a0'],
  ['\uFFFD', '\uFFFD'],
  ['&#x10FFFF;', '\u{10FFFF}'],
];

/** What the gateway must answer to an element that is fine XML but not allowed before binding. */
function rejectedBeforeBind(stage: Stage): Outcome {
  return stage === 'tls-required' ? streamError('policy-violation') : streamError('not-authorized');
}

interface Built {
  readonly payload: string | Buffer;
  readonly expect?: readonly Outcome[];
  readonly complete?: boolean;
  readonly stanzaError?: string;
  readonly saslFailure?: boolean;
  readonly replies?: readonly string[];
  readonly forwarded?: { readonly id: string; readonly body: string };
  readonly variant?: string;
}

interface Context {
  readonly r: Random;
  readonly stage: Stage;
  readonly account: FuzzAccount;
  readonly index: number;
  /** The stream header, when the stage has none yet (pre-header), else ''. */
  readonly lead: string;
  /** Full JID of a session of another account, which the fuzz must not disturb. */
  readonly bystander: string;
}

interface Generator {
  readonly name: string;
  readonly stages: readonly Stage[];
  readonly weight: number;
  build(context: Context): Built;
}

const ALL: readonly Stage[] = STAGES;
const AFTER_HEADER: readonly Stage[] = STAGES.filter((stage) => stage !== 'pre-header');
const BEFORE_BIND: readonly Stage[] = ['features', 'sasl', 'authenticated', 'tls-required'];

/** A single element that is valid (if not necessarily successful) at each stage. */
function validElements(context: Context): string[] {
  const { account, index } = context;
  const bare = `${account.username}@${account.domain}`;
  switch (context.stage) {
    case 'pre-header':
      return [clientHeader(account.domain), streamHeader(account.domain, " xml:lang='en'")];
    case 'features':
    case 'tls-required':
      return [
        plainAuth(account, 'wrong-password'),
        scramFirst(account, `n${index}`),
        `<auth xmlns='${NS.SASL}' mechanism='SCRAM-SHA-256'/>`,
      ];
    case 'sasl':
      return [
        `<response xmlns='${NS.SASL}'>${Buffer.from('c=biws,r=nonce,p=AAAA').toString('base64')}</response>`,
        `<abort xmlns='${NS.SASL}'/>`,
      ];
    case 'authenticated':
      return [bindRequest(`bind-${index}`, `fuzz-${index}`), bindRequest(`bind-${index}`)];
    case 'bound':
      return [
        pingRequest(`ping-${index}`),
        `<iq type='get' id='disco-${index}' to='${account.domain}'><query xmlns='${NS.DISCO_INFO}'/></iq>`,
        `<iq type='get' id='roster-${index}'><query xmlns='${NS.ROSTER}'/></iq>`,
        `<message to='nobody@${account.domain}' type='chat' id='m-${index}'><body>caf\u00e9 &amp; \u{1F600} &#x2028;</body></message>`,
        `<message to='romeo@example.net' id='r-${index}'><body><![CDATA[<raw>]]></body></message>`,
        `<message to='${bare}' type='headline' id='self-${index}'><body>note</body></message>`,
        `<presence to='romeo@example.net'><status xml:lang='fr'>l\u00e0</status></presence>`,
        `<active xmlns='${NS.CSI}'/>`,
        `<iq type='set' id='session-${index}'><session xmlns='${NS.SESSION}'/></iq>`,
      ];
  }
}

/** Constructs spliced into otherwise valid input: XML that XMPP forbids, or that is not XML at all. */
const SNIPPETS = [
  '<!DOCTYPE x>',
  '<!ENTITY e "x">',
  '<?pi data?>',
  XML_DECLARATION,
  '<!-- comment -->',
  '&foo;',
  '&amp;',
  '&#0;',
  '&#xD800;',
  ']]>',
  '<![CDATA[x]]>',
  '</message>',
  '</stream:stream>',
  streamHeader('localhost'),
  '<',
  '>',
  '&',
  "'",
  '"',
  '=',
  '\u0000',
  '\uFFFE',
  '\u00e9',
  '\u{1F600}',
  '\uFEFF',
  ' xmlns:foo="urn:foo"',
  " xmlns=''",
  '<foo:bar/>',
  `<r xmlns='${NS.SM}'/>`,
  `<starttls xmlns='${NS.TLS}'/>`,
  `<abort xmlns='${NS.SASL}'/>`,
  " __proto__='x'",
  ' '.repeat(4096),
  '\r\n',
];

function mutate(r: Random, input: Buffer): Buffer {
  const at = r.int(input.length + 1);
  const splice = (insert: Buffer): Buffer =>
    Buffer.concat([input.subarray(0, at), insert, input.subarray(at)]);
  switch (r.int(7)) {
    case 0: {
      const flipped = Buffer.from(input);
      for (let i = 0, flips = 1 + r.int(6); i < flips && flipped.length > 0; i += 1) {
        const index = r.int(flipped.length);
        flipped[index] = (flipped[index] ?? 0) ^ (1 << r.int(8));
      }
      return flipped;
    }
    case 1:
      return input.subarray(0, at);
    case 2:
    case 3:
      return splice(Buffer.from(r.pick(SNIPPETS)));
    case 4:
      return splice(r.chance(50) ? r.pick(INVALID_UTF8) : r.bytes(1 + r.int(16)));
    case 5: {
      const end = at + r.int(input.length - at + 1);
      return Buffer.concat([input.subarray(0, end), input.subarray(at)]);
    }
    default: {
      const end = at + r.int(Math.min(64, input.length - at) + 1);
      return Buffer.concat([input.subarray(0, at), input.subarray(end)]);
    }
  }
}

function nested(depth: number): string {
  return '<a>'.repeat(depth);
}

function manyAttributes(count: number, r: Random): string {
  const declarations = r.chance(50);
  return Array.from({ length: count }, (_, i) =>
    declarations ? ` xmlns:p${i}='urn:p${i}'` : ` a${i}='${i}'`,
  ).join('');
}

const GENERATORS: readonly Generator[] = [
  {
    name: 'random-bytes',
    stages: ALL,
    weight: 6,
    build: ({ r }) => {
      const length = 1 + r.int(4096);
      if (r.chance(30)) {
        const printable = Buffer.from(Array.from({ length }, () => 0x20 + r.int(0x5f)));
        return { payload: printable, variant: 'ascii' };
      }
      return { payload: r.bytes(length), variant: 'binary' };
    },
  },
  {
    name: 'invalid-utf8',
    stages: ALL,
    weight: 4,
    build: ({ r, stage, account, lead }) => {
      const bad = r.pick(INVALID_UTF8);
      const [before, after] =
        stage === 'pre-header'
          ? [
              `${XML_DECLARATION}<stream:stream to='local`,
              `host' xmlns='jabber:client' xmlns:stream='${NS.STREAM}' version='1.0'>`,
            ]
          : [`${lead}<message to='nobody@${account.domain}'><body>ab`, 'cd</body></message>'];
      return {
        payload: Buffer.concat([Buffer.from(before), bad, Buffer.from(after)]),
        expect: [streamError('not-well-formed')],
      };
    },
  },
  {
    name: 'truncated',
    stages: ALL,
    weight: 8,
    build: (context) => {
      const element = Buffer.from(context.r.pick(validElements(context)));
      const cut = 1 + context.r.int(element.length - 1);
      return { payload: element.subarray(0, cut), expect: ['open'] };
    },
  },
  {
    name: 'mutated',
    stages: ALL,
    weight: 24,
    build: (context) => {
      const { r } = context;
      const elements = validElements(context);
      const parts = Array.from({ length: 1 + r.int(3) }, () => r.pick(elements));
      if (context.stage === 'pre-header')
        parts.push(r.pick(['', `<auth xmlns='${NS.SASL}' mechanism='PLAIN'/>`]));
      let input: Buffer = Buffer.from(parts.join(r.pick(['', '\n', ' \t'])));
      for (let i = 0, mutations = 1 + r.int(4); i < mutations; i += 1) input = mutate(r, input);
      return { payload: input };
    },
  },
  {
    name: 'doctype',
    stages: ALL,
    weight: 2,
    build: ({ r, stage, account, lead }) => {
      const doctype = r.pick(['<!DOCTYPE stream>', `<!DOCTYPE stream:stream SYSTEM 'file:///etc/passwd'>`]);
      if (stage === 'pre-header') {
        return {
          payload: `${XML_DECLARATION}${doctype}${streamHeader(account.domain)}`,
          expect: [streamError('restricted-xml')],
        };
      }
      const inside = r.chance(50);
      return {
        payload: inside ? `${lead}<message>${doctype}</message>` : `${lead}${doctype}`,
        expect: [streamError('restricted-xml')],
        variant: inside ? 'in-stanza' : 'top-level',
      };
    },
  },
  {
    name: 'entities',
    stages: ALL,
    weight: 4,
    build: ({ r, stage, account, lead }) => {
      const laughs =
        '<!DOCTYPE lolz [<!ENTITY lol "lol">' +
        Array.from(
          { length: 9 },
          (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`,
        ).join('') +
        ']>';
      if (stage === 'pre-header') {
        return {
          payload: `${XML_DECLARATION}${laughs}${streamHeader(account.domain)}<message><body>&lol9;</body></message>`,
          expect: [streamError('restricted-xml')],
          variant: 'billion-laughs',
        };
      }
      switch (r.int(4)) {
        case 0:
          return {
            payload: `${lead}${laughs}`,
            expect: [streamError('restricted-xml')],
            variant: 'billion-laughs',
          };
        case 1:
          // Outside a DTD a declaration is no declaration, just broken markup.
          return {
            payload: `${lead}<!ENTITY xxe SYSTEM "file:///etc/passwd">`,
            expect: [streamError('restricted-xml'), streamError('not-well-formed')],
            variant: 'declaration',
          };
        case 2:
          return {
            payload: `${lead}<message to='nobody@${account.domain}'><body>${r.pick(['&foo;', '&lol9;', '&xxe;', '&nbsp;'])}</body></message>`,
            expect: [streamError('restricted-xml')],
            variant: 'undefined-in-text',
          };
        default:
          return {
            payload: `${lead}<message to='&foo;'/>`,
            expect: [streamError('restricted-xml')],
            variant: 'undefined-in-attribute',
          };
      }
    },
  },
  {
    name: 'bad-char-ref',
    stages: AFTER_HEADER,
    weight: 1,
    build: ({ r, account }) => ({
      payload: `<message to='nobody@${account.domain}'><body>${r.pick(['&#0;', '&#xD800;', '&#xFFFE;', '&#x110000;', '&#1;'])}</body></message>`,
      expect: [streamError('not-well-formed')],
    }),
  },
  {
    name: 'processing-instruction',
    stages: ALL,
    weight: 2,
    build: ({ r, stage, account, lead }) => {
      if (stage === 'pre-header') {
        return {
          payload: `<?pi data?>${clientHeader(account.domain)}`,
          expect: [streamError('restricted-xml')],
        };
      }
      const pi = r.pick(['<?pi data?>', XML_DECLARATION, '<?xml-stylesheet href="x"?>']);
      return {
        payload: r.chance(50) ? `${lead}${pi}` : `${lead}<message>${pi}</message>`,
        expect: [streamError('restricted-xml')],
      };
    },
  },
  {
    name: 'comment',
    stages: ALL,
    weight: 2,
    build: ({ r, stage, account, lead }) => {
      if (stage === 'pre-header') {
        return {
          payload: `<!-- hi -->${clientHeader(account.domain)}`,
          expect: [streamError('restricted-xml')],
        };
      }
      return {
        payload: r.chance(50) ? `${lead}<!-- hi -->` : `${lead}<message><body>a<!-- hi -->b</body></message>`,
        expect: [streamError('restricted-xml')],
      };
    },
  },
  {
    name: 'deep-nesting',
    stages: ALL,
    weight: 2,
    build: ({ r, account, lead }) => ({
      payload: `${lead}${r.pick(['', `<message to='nobody@${account.domain}'>`])}${nested(10_000)}`,
      expect: [streamError('policy-violation')],
    }),
  },
  {
    name: 'huge-attribute',
    stages: ALL,
    weight: 1,
    build: ({ stage, account, lead }) => {
      const value = 'x'.repeat(1024 * 1024);
      return {
        payload:
          stage === 'pre-header'
            ? `${XML_DECLARATION}${streamHeader(account.domain, ` x='${value}'`)}`
            : `${lead}<message to='nobody@${account.domain}' x='${value}'/>`,
        expect: [streamError('policy-violation')],
      };
    },
  },
  {
    name: 'huge-text',
    stages: ALL,
    weight: 1,
    build: ({ account, lead }) => ({
      payload: `${lead}<message to='nobody@${account.domain}'><body>${'y'.repeat(300 * 1024)}</body></message>`,
      expect: [streamError('policy-violation')],
    }),
  },
  {
    name: 'many-attributes',
    stages: ALL,
    weight: 2,
    build: ({ r, stage, account, lead }) => ({
      payload:
        stage === 'pre-header' && r.chance(50)
          ? `${XML_DECLARATION}${streamHeader(account.domain, manyAttributes(1000, r))}`
          : `${lead}<message to='nobody@${account.domain}'${manyAttributes(200 + r.int(2000), r)}/>`,
      expect: [streamError('policy-violation')],
    }),
  },
  {
    name: 'unbalanced',
    stages: ALL,
    weight: 3,
    build: ({ r, stage, lead }) => {
      if (stage === 'pre-header' && r.chance(50)) {
        return {
          payload: '</stream:stream>',
          expect: [streamError('not-well-formed')],
          variant: 'close-first',
        };
      }
      return {
        payload:
          lead +
          r.pick(['<message><body>x</message>', '</foo>', '<a></b>', '<message><body></stream:stream>']),
        expect: [streamError('not-well-formed')],
      };
    },
  },
  {
    name: 'second-header',
    stages: ALL,
    weight: 2,
    build: ({ r, stage, account, lead }) => {
      switch (r.int(3)) {
        case 0:
          return {
            payload: `${lead}${clientHeader(account.domain)}`,
            expect: [streamError('restricted-xml')],
            variant: 'with-declaration',
          };
        case 1:
          // Inside the stream, a stream header is just the start tag of an element that has not ended yet.
          return { payload: `${lead}${streamHeader(account.domain)}`, expect: ['open'], variant: 'open-tag' };
        default: {
          const outcome =
            stage === 'bound'
              ? streamError('unsupported-stanza-type')
              : rejectedBeforeBind(stage === 'pre-header' ? 'features' : stage);
          return {
            payload: `${lead}<stream:stream to='${account.domain}' version='1.0'/>`,
            expect: [outcome],
            variant: 'empty-element',
          };
        }
      }
    },
  },
  {
    name: 'garbage-after-close',
    stages: ALL,
    weight: 3,
    build: ({ r, lead }) => {
      const garbage = r.pick<Buffer | string>([
        r.bytes(1 + r.int(512)),
        'trailing text',
        '<message><body>late</body></message>',
        streamHeader('localhost'),
        '</stream:stream>',
        '<!DOCTYPE x>',
      ]);
      return {
        payload: Buffer.concat([Buffer.from(`${lead}</stream:stream>`), Buffer.from(garbage)]),
        expect: ['clean-close'],
      };
    },
  },
  {
    name: 'stanza-before-bind',
    stages: BEFORE_BIND,
    weight: 2,
    build: ({ r, stage, account }) => ({
      payload: r.pick([
        `<message to='nobody@${account.domain}'><body>early</body></message>`,
        '<presence/>',
        pingRequest('early'),
      ]),
      expect: [rejectedBeforeBind(stage)],
    }),
  },
  {
    name: 'bad-to',
    stages: ['bound'],
    weight: 6,
    build: ({ r, index }) => {
      const to = r.pick(BAD_JIDS).replace(/"/g, '&quot;');
      const payload = r.pick([
        `<message to="${to}" type='chat' id='bad-to-${index}'><body>x</body></message>`,
        `<presence to="${to}" id='bad-to-${index}'/>`,
        `<iq to="${to}" type='get' id='bad-to-${index}'><ping xmlns='${NS.PING}'/></iq>`,
      ]);
      return { payload, expect: ['open'], complete: true, stanzaError: 'jid-malformed' };
    },
  },
  {
    name: 'bad-from',
    stages: ['bound'],
    weight: 3,
    build: ({ r, account }) => {
      const from = r.pick([
        `mallory@${account.domain}`,
        `${account.username}@${account.domain}/someone-else`,
        account.domain,
        'romeo@example.net',
        'a@@b',
        '',
      ]);
      return {
        payload: r.pick([
          `<message from='${from}' to='nobody@${account.domain}'><body>spoof</body></message>`,
          `<presence from='${from}'/>`,
          `<iq from='${from}' type='get' id='spoof'><ping xmlns='${NS.PING}'/></iq>`,
        ]),
        expect: [streamError('invalid-from')],
      };
    },
  },
  {
    name: 'bad-iq',
    stages: ['bound'],
    weight: 4,
    build: ({ r, index }) => {
      const ping = `<ping xmlns='${NS.PING}'/>`;
      const [variant, payload] = r.pick([
        ['no-id', `<iq type='get'>${ping}</iq>`],
        ['empty-id', `<iq type='get' id=''>${ping}</iq>`],
        ['no-type', `<iq id='t-${index}'>${ping}</iq>`],
        ['bad-type', `<iq type='fetch' id='t-${index}'>${ping}</iq>`],
        ['no-child', `<iq type='get' id='t-${index}'/>`],
        ['two-children', `<iq type='set' id='t-${index}'>${ping}${ping}</iq>`],
        ['presence-type', `<presence type='online' id='t-${index}'/>`],
      ] as const);
      return { payload, expect: ['open'], complete: true, stanzaError: 'bad-request', variant };
    },
  },
  {
    name: 'sm-nonza',
    stages: AFTER_HEADER,
    weight: 3,
    build: ({ r, stage }) => {
      const [variant, payload] = r.pick([
        ['r', `<r xmlns='${NS.SM}'/>`],
        ['a', `<a xmlns='${NS.SM}' h='${r.int(2 ** 32)}'/>`],
        ['enable', `<enable xmlns='${NS.SM}' resume='true'/>`],
        ['resume', `<resume xmlns='${NS.SM}' h='0' previd='x'/>`],
      ] as const);
      // Spec §1.4: <enable/> and <resume/> are answered with <enabled/> or <failed/> at every stage and
      // the stream stays open; §1.5: <r/> and <a/> before SM is enabled are elements out of place.
      const outOfPlace =
        stage === 'bound' ? streamError('unsupported-stanza-type') : rejectedBeforeBind(stage);
      return { payload, expect: [variant === 'r' || variant === 'a' ? outOfPlace : 'open'], variant };
    },
  },
  {
    name: 'unknown-nonza',
    stages: AFTER_HEADER,
    weight: 3,
    build: ({ r, stage }) => {
      const [variant, payload] = r.pick([
        ['unknown-namespace', `<foo xmlns='urn:example:fuzz'><bar/></foo>`],
        ['server-namespace', `<message xmlns='${NS.SERVER}' to='nobody@localhost'/>`],
        ['no-namespace', `<presence xmlns=''/>`],
        ['stream-namespace', `<stream:features xmlns:stream='${NS.STREAM}'/>`],
        ['prefixed', `<x:iq xmlns:x='urn:example:x' type='get' id='x'/>`],
      ] as const);
      return {
        payload,
        expect: [stage === 'bound' ? streamError('unsupported-stanza-type') : rejectedBeforeBind(stage)],
        variant,
      };
    },
  },
  {
    name: 'client-stream-error',
    stages: AFTER_HEADER,
    weight: 1,
    build: () => ({
      payload: `<stream:error xmlns:stream='${NS.STREAM}'><not-well-formed xmlns='${NS.STREAM_ERROR}'/></stream:error>`,
    }),
  },
  {
    name: 'starttls-then-garbage',
    stages: ['features', 'tls-required', 'sasl'],
    weight: 3,
    build: ({ r, index }) => {
      const [variant, after] = r.pick([
        ['random', r.bytes(r.int(2048))],
        ['handshake-like', Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), r.bytes(r.int(300))])],
        // STARTTLS command injection (CVE-2011-0411): plaintext after <starttls/> must never be read.
        ['injected-stanza', Buffer.from(`${bindRequest(`inj-${index}`)}${pingRequest(`inj-${index}`)}`)],
      ] as const);
      return {
        payload: Buffer.concat([Buffer.from(`<starttls xmlns='${NS.TLS}'/>`), after]),
        expect: ['tls'],
        variant,
      };
    },
  },
  {
    name: 'starttls-late',
    stages: ['authenticated', 'bound'],
    weight: 1,
    build: ({ stage }) => ({
      payload: `<starttls xmlns='${NS.TLS}'/>`,
      expect: [stage === 'bound' ? streamError('unsupported-stanza-type') : streamError('not-authorized')],
    }),
  },
  {
    name: 'sasl-abuse',
    stages: ['features', 'sasl', 'tls-required'],
    weight: 4,
    build: ({ r, stage, account }) => {
      const sasl = (name: string, text = '', mechanism?: string): string =>
        `<${name} xmlns='${NS.SASL}'${mechanism === undefined ? '' : ` mechanism='${mechanism}'`}>${text}</${name}>`;
      const [variant, payload] = r.pick([
        [
          'bad-mechanism',
          sasl('auth', '', r.pick(['BOGUS', 'SCRAM-SHA-1-PLUS', 'plain', '', 'X'.repeat(2000)])),
        ],
        ['not-base64', sasl('auth', '!!!*', 'PLAIN')],
        ['wrong-password', plainAuth(account, 'wrong')],
        ['unknown-user', plainAuth({ ...account, username: 'nobody' })],
        [
          'authzid',
          sasl(
            'auth',
            Buffer.from(`control@localhost\0${account.username}\0${account.password}`).toString('base64'),
            'PLAIN',
          ),
        ],
        [
          'random-initial',
          sasl(
            'auth',
            r.bytes(1 + r.int(200)).toString('base64'),
            r.pick(['PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256']),
          ),
        ],
        ['response', sasl('response', r.bytes(r.int(200)).toString('base64'))],
        [
          'scram-final',
          sasl(
            'response',
            Buffer.from(
              `c=biws,r=${r.pick(['', 'x', 'a'.repeat(300)])},p=${r.bytes(20).toString('base64')}`,
            ).toString('base64'),
          ),
        ],
        ['abort', sasl('abort')],
        ['empty-response', sasl('response', '=')],
        ['unknown-element', sasl('challenge', 'AAAA')],
      ] as const);
      return {
        payload,
        expect: ['open'],
        complete: true,
        saslFailure: true,
        variant: stage === 'tls-required' ? `${variant}/no-tls` : variant,
      };
    },
  },
  {
    name: 'bind-abuse',
    stages: ['authenticated'],
    weight: 5,
    build: ({ r, index }) => {
      const id = `bind-${index}`;
      // Resources are unique per case: binding one twice would (rightly) replace the other session.
      const unique = (resource: string): string => `${index}${resource.slice(String(index).length)}`;
      const [variant, resource] = r.pick([
        ['long-ascii', unique('r'.repeat(1023))],
        ['dots-682', unique('.'.repeat(682))],
        ['dots-1023', unique('.'.repeat(1023))],
        ['accents', unique('\u00e9'.repeat(500))],
        ['too-long', 'r'.repeat(1024)],
        ['spaces', ` leading and trailing ${index} `],
        ['control', `&#9;tab${index}`],
        ['empty', ''],
        ['nats-wildcards', `*.>${index}`],
      ] as const);
      return {
        payload: bindRequest(id, resource),
        expect: ['open'],
        complete: true,
        replies: [id],
        variant,
      };
    },
  },
  {
    name: 'bind-malformed',
    stages: ['authenticated'],
    weight: 3,
    build: ({ r, index }) => {
      const bind = `<bind xmlns='${NS.BIND}'/>`;
      const id = `b-${index}`;
      const second = `b2-${index}`;
      const [variant, payload, outcome, replies] = r.pick([
        ['get', `<iq type='get' id='${id}'>${bind}</iq>`, streamError('not-authorized'), []],
        ['no-id', `<iq type='set'>${bind}</iq>`, 'open', []],
        [
          'two-resources',
          `<iq type='set' id='${id}'><bind xmlns='${NS.BIND}'><resource>a-${index}</resource><resource>b</resource></bind></iq>`,
          'open',
          [id],
        ],
        ['extra-child', `<iq type='set' id='${id}'>${bind}<ping xmlns='${NS.PING}'/></iq>`, 'open', [id]],
        ['to-server', `<iq type='set' id='${id}' to='localhost'>${bind}</iq>`, 'open', [id]],
        // A client that does not wait for the first result: every iq set gets a reply (RFC 6120 §8.2.3).
        ['twice', bindRequest(id, `a-${index}`) + bindRequest(second, `b-${index}`), 'open', [id, second]],
      ] as const);
      return { payload, expect: [outcome], complete: outcome === 'open', replies, variant };
    },
  },
  {
    name: 'pipelined-pings',
    stages: ['bound'],
    weight: 3,
    build: ({ r, index, account }) => {
      const ids = Array.from({ length: 2 + r.int(60) }, (_, i) => `pp-${index}-${i}`);
      const to = r.pick([account.domain, `${account.username}@${account.domain}`, '']);
      const pings = ids.map((id) =>
        to === '' ? `<iq type='get' id='${id}'><ping xmlns='${NS.PING}'/></iq>` : pingRequest(id, to),
      );
      return { payload: pings.join(r.pick(['', '\n'])), expect: ['open'], complete: true, replies: ids };
    },
  },
  {
    name: 'prototype-names',
    stages: ['bound'],
    weight: 2,
    build: ({ r, index, account }) => {
      const name = r.pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype']);
      const id = `proto-${index}`;
      return {
        payload: r.pick([
          `<message to='nobody@${account.domain}' ${name}='x' id='${id}'><body>p</body></message>`,
          `<message to='${name}@${account.domain}' id='${id}'><body>p</body></message>`,
          `<iq type='get' id='${name}'><query xmlns='${NS.ROSTER}' ${name}='1'/></iq>`,
          `<presence ${name}='1'><show>${name}</show></presence>`,
          `<iq type='get' id='${id}' to='${account.domain}'><${name} xmlns='urn:example:${name}'/></iq>`,
        ]),
        expect: ['open'],
        complete: true,
        variant: name,
      };
    },
  },
  {
    name: 'roster-abuse',
    stages: ['bound'],
    weight: 3,
    build: ({ r, index, account }) => {
      const id = `ro-${index}`;
      const item = r.pick([
        "<item jid='a@@b'/>",
        `<item jid='${account.username}@${account.domain}'/>`,
        "<item jid='x@localhost' subscription='both'/>",
        "<item jid='x@localhost' subscription='remove'/>",
        "<item jid='x@localhost' ask='subscribe'/>",
        `<item jid='x@localhost' name='${'n'.repeat(16_000)}'/>`,
        `<item jid='x@localhost'>${'<group>g</group>'.repeat(300)}</item>`,
        "<item jid='x@localhost'><group></group></item>",
        '<item/>',
        "<item jid='localhost'/>",
        "<item jid='romeo@example.net/res'/>",
      ]);
      return {
        payload: `<iq type='set' id='${id}'><query xmlns='${NS.ROSTER}'>${item}</query></iq>`,
        expect: ['open'],
        complete: true,
        replies: [id],
      };
    },
  },
  {
    name: 'presence-abuse',
    stages: ['bound'],
    weight: 3,
    build: ({ r, account }) => ({
      payload: r.pick([
        `<presence type='subscribe' to='${account.domain}'/>`,
        `<presence type='subscribe' to='${account.username}@${account.domain}'/>`,
        `<presence type='subscribed' to='${account.username}@${account.domain}/x'/>`,
        `<presence type='unsubscribed' to='nobody@${account.domain}'/>`,
        "<presence type='subscribe' to='romeo@example.net'/>",
        `<presence type='probe' to='${account.username}@${account.domain}'/>`,
        "<presence type='unavailable'/>",
        "<presence type='error'/>",
        `<presence to='${account.domain}'/>`,
        `<presence><priority>${r.pick(['999999999999', '-129', 'x', ''])}</priority></presence>`,
      ]),
      expect: ['open'],
      complete: true,
    }),
  },
  {
    // Valid JIDs whose localpart is long in bytes that NATS subjects and KV keys must escape.
    name: 'long-jid',
    stages: ['bound'],
    weight: 3,
    build: ({ r, index, account }) => {
      const local = r.pick(['.'.repeat(700), '.'.repeat(1023), '\u00e9'.repeat(400), 'x'.repeat(1023)]);
      const to = `${local}@${account.domain}`;
      const id = `lj-${index}`;
      const [variant, payload, replies] = r.pick([
        ['message', `<message to='${to}' type='chat' id='${id}'><body>hi</body></message>`, []],
        ['iq', `<iq to='${to}' type='get' id='${id}'><ping xmlns='${NS.PING}'/></iq>`, [id]],
        ['subscribe', `<presence to='${to}' type='subscribe' id='${id}'/>`, []],
        ['probe', `<presence to='${to}' type='probe' id='${id}'/>`, []],
        ['directed', `<presence to='${to}' id='${id}'/>`, []],
        [
          'roster',
          `<iq type='set' id='${id}'><query xmlns='${NS.ROSTER}'><item jid='${to}'/></query></iq>`,
          [id],
        ],
      ] as const);
      return { payload, expect: ['open'], complete: true, replies, variant };
    },
  },
  {
    name: 'to-bystander',
    stages: ['bound'],
    weight: 3,
    build: ({ r, index, bystander }) => {
      const id = `tb-${index}`;
      const pieces = Array.from({ length: 1 + r.int(12) }, () => r.pick(TEXT_PIECES));
      const depth = r.int(60);
      // Up to 61 attributes with declarations, to, type and id: just inside the limit of 64.
      const attributes = Array.from({ length: r.int(30) }, (_, i) =>
        r.chance(50) ? ` a${i}='${i}'` : ` xmlns:p${i}='urn:p${i}' p${i}:a='&lt;${i}&amp;'`,
      ).join('');
      const extra = r.pick([
        `<x xmlns='urn:example:deep'>${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}</x>`,
        `<stream:error xmlns:stream='${NS.STREAM}'><conflict xmlns='${NS.STREAM_ERROR}'/></stream:error>`,
        `<y:y xmlns:y='urn:example:y' y:z='\u20ac' xml:lang='x-fuzz'>${'<z/>'.repeat(r.int(200))}</y:y>`,
        `<body xml:lang='de'>zweiter</body>`,
      ]);
      return {
        payload: `<message to='${bystander}' type='chat' id='${id}'${attributes}><body>${pieces.map(([text]) => text).join('')}</body>${extra}</message>`,
        expect: ['open'],
        complete: true,
        forwarded: { id, body: pieces.map(([, decoded]) => decoded).join('') },
      };
    },
  },
  {
    name: 'bad-header',
    stages: ['pre-header'],
    weight: 6,
    build: ({ r, account }) => {
      const ns = `xmlns:stream='${NS.STREAM}'`;
      const [variant, payload, condition] = r.pick([
        [
          'unknown-host',
          `<stream:stream to='example.net' xmlns='jabber:client' ${ns} version='1.0'>`,
          'host-unknown',
        ],
        ['no-to', `<stream:stream xmlns='jabber:client' ${ns} version='1.0'>`, 'host-unknown'],
        ['bad-to', `<stream:stream to='a@@b' xmlns='jabber:client' ${ns} version='1.0'>`, 'host-unknown'],
        [
          'no-version',
          `<stream:stream to='${account.domain}' xmlns='jabber:client' ${ns}>`,
          'unsupported-version',
        ],
        [
          'old-version',
          `<stream:stream to='${account.domain}' xmlns='jabber:client' ${ns} version='0.9'>`,
          'unsupported-version',
        ],
        [
          'server-namespace',
          `<stream:stream to='${account.domain}' xmlns='jabber:server' ${ns} version='1.0'>`,
          'invalid-namespace',
        ],
        ['no-namespace', `<stream:stream to='${account.domain}' ${ns} version='1.0'>`, 'invalid-namespace'],
        [
          'wrong-stream-namespace',
          `<stream:stream to='${account.domain}' xmlns='jabber:client' xmlns:stream='urn:wrong' version='1.0'>`,
          'invalid-namespace',
        ],
        [
          'wrong-root',
          `<stream to='${account.domain}' xmlns='jabber:client' version='1.0'>`,
          'invalid-namespace',
        ],
        [
          'encoding',
          `<?xml version='1.0' encoding='ISO-8859-1'?>${streamHeader(account.domain)}`,
          'unsupported-encoding',
        ],
        [
          'unbound-prefix',
          `<stream:stream to='${account.domain}' xmlns='jabber:client' version='1.0'>`,
          'not-well-formed',
        ],
        ['text-first', `hello${clientHeader(account.domain)}`, 'not-well-formed'],
      ] as const);
      return { payload, expect: [streamError(condition)], variant };
    },
  },
];

const STAGE_WEIGHTS: Readonly<Record<Stage, number>> = {
  'pre-header': 20,
  features: 20,
  sasl: 7,
  authenticated: 10,
  bound: 37,
  'tls-required': 6,
};

function weighted<T>(r: Random, items: readonly T[], weight: (item: T) => number): T {
  const total = items.reduce((sum, item) => sum + weight(item), 0);
  let roll = r.int(total);
  for (const item of items) {
    roll -= weight(item);
    if (roll < 0) return item;
  }
  throw new Error('weights do not add up');
}

/** Random write sizes from 1 byte to 32 KiB, small ones as likely as large ones (log-uniform). */
function cut(r: Random, payload: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < payload.length;) {
    const size = 1 + r.int(2 ** r.int(16));
    chunks.push(payload.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

/** Case `index` of the run with `seed`: the same input, cut the same way, whatever else runs around it. */
export function fuzzCase(seed: number, index: number, account: FuzzAccount, bystander: string): FuzzCase {
  const r = new Random((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const stage = weighted(r, STAGES, (s) => STAGE_WEIGHTS[s]);
  const generator = weighted(
    r,
    GENERATORS.filter((g) => g.stages.includes(stage)),
    (g) => g.weight,
  );
  const lead = stage === 'pre-header' ? clientHeader(account.domain) : '';
  const built = generator.build({ r, stage, account, index, lead, bystander });
  const payload = Buffer.from(built.payload);
  return {
    seed,
    index,
    stage,
    kind: built.variant === undefined ? generator.name : `${generator.name}/${built.variant}`,
    payload,
    chunks: cut(r, payload),
    ...(built.expect === undefined ? {} : { expect: built.expect }),
    complete: built.complete ?? false,
    ...(built.stanzaError === undefined ? {} : { stanzaError: built.stanzaError }),
    ...(built.saslFailure === undefined ? {} : { saslFailure: built.saslFailure }),
    ...(built.replies === undefined ? {} : { replies: built.replies }),
    ...(built.forwarded === undefined ? {} : { forwarded: built.forwarded }),
  };
}

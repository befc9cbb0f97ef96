import { describe, expect, it } from 'vitest';

import { serialize } from './serialize.js';
import { isStreamErrorCondition } from './stream-error.js';
import type { StreamError } from './stream-error.js';
import { StreamParser } from './stream-parser.js';
import type { StreamParserMode } from './stream-parser.js';

const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " +
  "xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' xml:lang='en'>";
const STANZAS = [
  "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>",
  "<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>",
  "<presence><show>away</show><status xml:lang='fr'>caf\u00e9 \u{1F600}</status><priority>5</priority></presence>",
  "<message to='romeo@example.net' type='chat' id='m1'><body>Art thou not Romeo &amp; a Montague? &#x2028;</body>" +
    "<active xmlns='http://jabber.org/protocol/chatstates'/><x:y xmlns:x='urn:x' x:z='\u20ac'><![CDATA[<raw>]]></x:y></message>",
  "<enable xmlns='urn:xmpp:sm:3' resume='true'/>",
  "<r xmlns='urn:xmpp:sm:3'/>",
  "<a xmlns='urn:xmpp:sm:3' h='3'/>",
];
const BASE = Buffer.from(`${HEADER}\n${STANZAS.join('\n  ')}\n</stream:stream>`);

const MAX_STANZA_SIZE = 262_144;
const DEEP = Buffer.from('<a>'.repeat(10_000));
const BIG_ATTRIBUTE = Buffer.from(`<x a='${'x'.repeat(1024 * 1024)}'/>`);
const SNIPPETS = [
  '<!DOCTYPE stream>',
  '<!DOCTYPE s [<!ENTITY a "b">]>',
  '<?pi data?>',
  "<?xml version='1.0'?>",
  '<!-- comment -->',
  '&foo;',
  '&amp;',
  '&#0;',
  '&#xD800;',
  ']]>',
  '<![CDATA[x]]>',
  '</message>',
  '</stream:stream>',
  '<stream:stream>',
  '<',
  '>',
  '&',
  "'",
  '\u0000',
  '\uFFFE',
  '\u00e9',
  ' xmlns:foo="urn:foo"',
  '<foo:bar/>',
  ' '.repeat(4096),
].map((snippet) => Buffer.from(snippet));

/** Mulberry32: small, seeded, good enough to spread mutations. */
function prng(seed: number): (bound: number) => number {
  let state = seed >>> 0;
  return (bound) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * bound);
  };
}

type Random = ReturnType<typeof prng>;

function randomBytes(random: Random, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => random(256)));
}

interface Input {
  bytes: Buffer;
  /** Offset of an inserted construct that must be stopped by a limit, to check how soon. */
  huge?: number;
}

function mutate(random: Random, input: Input): Input {
  const { bytes } = input;
  const at = random(bytes.length + 1);
  const splice = (insert: Buffer): Buffer =>
    Buffer.concat([bytes.subarray(0, at), insert, bytes.subarray(at)]);
  switch (random(7)) {
    case 0: {
      const flipped = Buffer.from(bytes);
      for (let i = 0, flips = 1 + random(8); i < flips && flipped.length > 0; i += 1) {
        const index = random(flipped.length);
        flipped[index] = (flipped[index] ?? 0) ^ (1 + random(255));
      }
      return { ...input, bytes: flipped };
    }
    case 1:
      return { bytes: bytes.subarray(0, at) };
    case 2:
    case 3:
      return { bytes: splice(SNIPPETS[random(SNIPPETS.length)] ?? Buffer.alloc(0)) };
    case 4:
      return { bytes: splice(randomBytes(random, 1 + random(16))) };
    case 5: {
      const end = at + random(bytes.length - at + 1);
      return { bytes: Buffer.concat([bytes.subarray(0, end), bytes.subarray(at)]) };
    }
    default: {
      const end = at + random(Math.min(64, bytes.length - at) + 1);
      return { bytes: Buffer.concat([bytes.subarray(0, at), bytes.subarray(end)]) };
    }
  }
}

function generate(random: Random): Input {
  const kind = random(100);
  if (kind < 5) return { bytes: randomBytes(random, random(4096)) };
  if (kind < 7) {
    const at = BASE.indexOf('\n<') + 1;
    return { bytes: Buffer.concat([BASE.subarray(0, at), DEEP, BASE.subarray(at)]), huge: at };
  }
  if (kind < 9) {
    const at = BASE.indexOf('\n<') + 1;
    return { bytes: Buffer.concat([BASE.subarray(0, at), BIG_ATTRIBUTE, BASE.subarray(at)]), huge: at };
  }
  let input: Input = { bytes: BASE };
  for (let i = 0, mutations = 1 + random(3); i < mutations; i += 1) input = mutate(random, input);
  return input;
}

interface Run {
  events: string[];
  errors: StreamError[];
  /** Bytes written when the error was reported. */
  writtenAtError: number | undefined;
  threw: unknown;
}

/** Writes chunks until a few after the first error: a dead parser must stay quiet, and no longer. */
function run(mode: StreamParserMode, chunks: Iterable<Buffer>): Run {
  const result: Run = { events: [], errors: [], writtenAtError: undefined, threw: undefined };
  const parser = new StreamParser(
    {
      streamStart: (attrs) => result.events.push(`start ${JSON.stringify(attrs)}`),
      element: (element) => result.events.push(`element ${serialize(element)}`),
      streamEnd: () => result.events.push('end'),
      error: (error) => {
        result.errors.push(error);
        result.events.push(`error ${error.condition}`);
      },
    },
    { mode },
  );
  let written = 0;
  let afterError = 0;
  for (const chunk of chunks) {
    if (result.errors.length > 0 && (afterError += 1) > 8) break;
    try {
      parser.write(chunk);
    } catch (error) {
      result.threw = error;
      break;
    }
    written += chunk.length;
    if (result.errors.length > 0 && result.writtenAtError === undefined) result.writtenAtError = written;
  }
  return result;
}

function* cut(random: Random, bytes: Buffer, mode: StreamParserMode): Generator<Buffer> {
  if (mode === 'framed') {
    const cuts = [0, ...Array.from({ length: random(4) }, () => random(bytes.length + 1)), bytes.length];
    cuts.sort((a, b) => a - b);
    for (let i = 1; i < cuts.length; i += 1) yield bytes.subarray(cuts[i - 1], cuts[i]);
    return;
  }
  for (let offset = 0; offset < bytes.length;) {
    const size = 1 + random(2 ** random(14));
    yield bytes.subarray(offset, offset + size);
    offset += size;
  }
}

function checkInvariants(mode: StreamParserMode, result: Run, label: string): void {
  expect(result.threw, label).toBeUndefined();
  expect(result.errors.length, label).toBeLessThanOrEqual(1);
  const error = result.errors[0];
  if (error !== undefined) {
    expect(isStreamErrorCondition(error.condition), label).toBe(true);
    expect(result.events.at(-1), label).toBe(`error ${error.condition}`);
  }
  if (mode === 'stream') {
    const kinds = result.events.map((event) => event.split(' ', 1)[0]);
    const starts = kinds.filter((kind) => kind === 'start').length;
    const ends = kinds.filter((kind) => kind === 'end').length;
    expect(starts, label).toBeLessThanOrEqual(1);
    expect(ends, label).toBeLessThanOrEqual(starts);
    if (kinds.length > 0 && kinds[0] !== 'error') expect(kinds[0], label).toBe('start');
    const end = kinds.indexOf('end');
    if (end !== -1)
      expect(
        kinds.slice(end + 1).every((kind) => kind === 'error'),
        label,
      ).toBe(true);
  }
}

describe('StreamParser fuzz', () => {
  it('survives 2000 mutated streams: no throw, at most one valid error, bounded work', () => {
    const random = prng(0x5eed);
    const started = performance.now();
    let slowest = 0;
    let compared = 0;
    const conditions = new Map<string, number>();
    for (let i = 0; i < 2000; i += 1) {
      const input = generate(random);
      const mode: StreamParserMode = random(100) < 15 ? 'framed' : 'stream';
      const label = `input ${i} (${mode})`;
      const before = performance.now();
      const chunked = run(mode, cut(random, input.bytes, mode));
      slowest = Math.max(slowest, performance.now() - before);
      checkInvariants(mode, chunked, label);
      const condition = chunked.errors[0]?.condition ?? 'none';
      conditions.set(condition, (conditions.get(condition) ?? 0) + 1);

      if (input.huge !== undefined && mode === 'stream') {
        expect(chunked.errors[0]?.condition, label).toBe('policy-violation');
        expect(chunked.writtenAtError, label).toBeLessThanOrEqual(
          input.huge + MAX_STANZA_SIZE + 3 * 16_384 + 8192,
        );
      }
      // Chunking must not change the outcome, except where a size limit (checked per slice) is involved:
      // an oversized comment, say, is policy-violation when cut, restricted-xml when it arrives whole.
      if (mode === 'stream') {
        const whole = run(mode, [input.bytes]);
        checkInvariants(mode, whole, `${label}, whole`);
        const limited = [chunked, whole].some((r) => r.errors[0]?.condition === 'policy-violation');
        if (!limited) {
          expect(whole.events, label).toEqual(chunked.events);
          compared += 1;
        }
      }
    }
    const elapsed = performance.now() - started;
    expect(slowest).toBeLessThan(1000);
    expect(elapsed).toBeLessThan(10_000);
    expect(compared).toBeGreaterThan(1000);
    // The corpus reaches the interesting outcomes, not just one of them.
    for (const condition of ['none', 'not-well-formed', 'restricted-xml', 'policy-violation', 'bad-format']) {
      expect(conditions.get(condition) ?? 0, condition).toBeGreaterThan(10);
    }
  }, 30_000);
});

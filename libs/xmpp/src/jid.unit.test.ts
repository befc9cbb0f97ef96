import { describe, expect, it } from 'vitest';

import { Jid, JidError, parseJid } from './jid.js';
import type { JidErrorCode } from './jid.js';

function failure(value: string): JidErrorCode | undefined {
  try {
    parseJid(value);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(JidError);
    return (error as JidError).code;
  }
}

describe('parseJid', () => {
  // RFC 7622 §3.5, table 1, with the prepared form each one takes.
  it.each([
    ['juliet@example.com', 'juliet', 'example.com', undefined],
    ['juliet@example.com/foo', 'juliet', 'example.com', 'foo'],
    ['juliet@example.com/foo bar', 'juliet', 'example.com', 'foo bar'],
    ['juliet@example.com/foo@bar', 'juliet', 'example.com', 'foo@bar'],
    ['foo\\20bar@example.com', 'foo\\20bar', 'example.com', undefined],
    ['fussball@example.com', 'fussball', 'example.com', undefined],
    ['fu\u00dfball@example.com', 'fu\u00dfball', 'example.com', undefined],
    ['\u03c0@example.com', '\u03c0', 'example.com', undefined],
    ['\u03a3@example.com/foo', '\u03c3', 'example.com', 'foo'],
    ['\u03c3@example.com/foo', '\u03c3', 'example.com', 'foo'],
    ['\u03c2@example.com/foo', '\u03c2', 'example.com', 'foo'],
    ['king@example.com/\u265a', 'king', 'example.com', '\u265a'],
    ['example.com', undefined, 'example.com', undefined],
    ['example.com/foobar', undefined, 'example.com', 'foobar'],
    ['a.example.com/b@example.net', undefined, 'a.example.com', 'b@example.net'],
  ])('accepts RFC 7622 §3.5 example %s', (value, local, domain, resource) => {
    const jid = parseJid(value);
    expect([jid.local, jid.domain, jid.resource]).toEqual([local, domain, resource]);
  });

  // RFC 7622 §3.5, table 2 (examples 16-23 but 18, below).
  it.each([
    ['"juliet"@example.com', 'HF_JID_LOCALPART_INVALID'],
    ['foo bar@example.com', 'HF_JID_LOCALPART_INVALID'],
    ['@example.com/', 'HF_JID_LOCALPART_INVALID'],
    ['henry\u2163@example.com', 'HF_JID_LOCALPART_INVALID'],
    ['\u265a@example.com', 'HF_JID_LOCALPART_INVALID'],
    ['juliet@', 'HF_JID_DOMAINPART_INVALID'],
    ['/foobar', 'HF_JID_DOMAINPART_INVALID'],
  ])('rejects RFC 7622 §3.5 counter-example %s', (value, code) => {
    expect(failure(value)).toBe(code);
  });

  it('accepts example 18 of table 2 (leading space in the resourcepart), as mellium/xmpp does', () => {
    // The table calls it invalid, but no rule of §3.4 forbids it: OpaqueString allows U+0020 anywhere.
    expect(parseJid('juliet@example.com/ foo').resource).toBe(' foo');
  });

  it('splits on the first / and then on the first @ (§3.1)', () => {
    const jid = parseJid('a@b.example/d@e/f');
    expect(jid.local).toBe('a');
    expect(jid.domain).toBe('b.example');
    expect(jid.resource).toBe('d@e/f');
    expect(failure('a@b@c/d')).toBe('HF_JID_DOMAINPART_INVALID');
  });

  describe('localpart', () => {
    it('maps width and case, then normalises to NFC', () => {
      expect(parseJid('\uff2a\uff35\uff2c\uff29\uff25\uff34@example.com').local).toBe('juliet');
      expect(parseJid('JULIET@example.com').local).toBe('juliet');
      expect(parseJid('e\u0301@example.com').local).toBe('\u00e9');
    });

    it.each([
      ['&', 'a&b'],
      ["'", "a'b"],
      ['a fraction slash, which looks like /', 'a\u2044b'],
      [':', 'a:b'],
      ['<', 'a<b'],
      ['>', 'a>b'],
      ['a tab', 'a\tb'],
      ['a control character', 'a\u0007b'],
      ['a zero width joiner', 'a\u200db'],
      ['a compatibility character', '\ufb01x'],
      ['a symbol', 'a\u2603'],
      ['a non-ASCII space', 'a\u00a0b'],
    ])('rejects %s', (_, local) => {
      expect(failure(`${local}@example.com`)).toBe('HF_JID_LOCALPART_INVALID');
    });

    it('holds prepared parts to 1023 octets', () => {
      expect(parseJid(`${'\u00e9'.repeat(511)}a@example.com`).local).toHaveLength(512);
      expect(failure(`${'\u00e9'.repeat(512)}@example.com`)).toBe('HF_JID_LOCALPART_INVALID');
      expect(failure(`${'a'.repeat(1_000_000)}@example.com`)).toBe('HF_JID_LOCALPART_INVALID');
    });
  });

  describe('domainpart', () => {
    it('strips one trailing dot before anything else and lower-cases (§3.2)', () => {
      expect(parseJid('juliet@Example.COM.').toString()).toBe('juliet@example.com');
      expect(failure('juliet@example.com..')).toBe('HF_JID_DOMAINPART_INVALID');
      expect(failure('juliet@.')).toBe('HF_JID_DOMAINPART_INVALID');
    });

    it('keeps internationalised domains as A-labels', () => {
      expect(parseJid('juliet@\u4f8b\u3048.jp').domain).toBe('xn--r8jz45g.jp');
      expect(parseJid('juliet@xn--r8jz45g.jp').equals(parseJid('juliet@\u4f8b\u3048.jp'))).toBe(true);
      expect(parseJid('juliet@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com').domain).toBe('example.com');
    });

    it('accepts IP literals', () => {
      expect(parseJid('juliet@192.0.2.1').domain).toBe('192.0.2.1');
      expect(parseJid('juliet@[2001:DB8::1]').domain).toBe('[2001:db8::1]');
      expect(failure('juliet@[not:an:address]')).toBe('HF_JID_DOMAINPART_INVALID');
      expect(failure('juliet@[::1')).toBe('HF_JID_DOMAINPART_INVALID');
    });

    it.each([
      ['URL percent-decoding', 'ex%61mple.com'],
      ['URL IPv4 shorthand', '0x7f.1'],
      ['URL IPv4 in octal', '0177.0.0.1'],
      ['a numeric top-level label', 'example.123'],
      ['an empty label', 'a..example.com'],
      ['a leading hyphen', '-a.example.com'],
      ['a trailing hyphen', 'a-.example.com'],
      ['a label longer than 63 octets', `${'a'.repeat(64)}.example.com`],
      ['a space', 'exa mple.com'],
      ['a backslash', 'exa\\mple.com'],
      ['URL punctuation', 'a!b.example.com'],
      ['a broken A-label', 'xn--i\u00f1valid.com'],
    ])('rejects %s', (_, domain) => {
      expect(failure(`juliet@${domain}`)).toBe('HF_JID_DOMAINPART_INVALID');
    });
  });

  describe('resourcepart', () => {
    it('keeps case, maps non-ASCII spaces to U+0020 and normalises to NFC', () => {
      expect(parseJid('juliet@example.com/Balcony\u3000Two').resource).toBe('Balcony Two');
      expect(parseJid('juliet@example.com/e\u0301').resource).toBe('\u00e9');
      expect(parseJid('juliet@example.com/\ufb01').resource).toBe('\ufb01');
    });

    it.each([
      ['empty', ''],
      ['a control character', 'a\u0001'],
      ['a line separator', 'a\u2028b'],
      ['a zero width joiner', 'a\u200db'],
      ['a private use character', '\ue000'],
      ['more than 1023 octets', 'a'.repeat(1024)],
    ])('rejects %s', (_, resource) => {
      expect(failure(`juliet@example.com/${resource}`)).toBe('HF_JID_RESOURCEPART_INVALID');
    });
  });
});

describe('Jid', () => {
  it('compares prepared forms', () => {
    expect(parseJid('Juliet@Example.com/balcony').equals(parseJid('juliet@example.com./balcony'))).toBe(true);
    expect(parseJid('juliet@example.com/Balcony').equals(parseJid('juliet@example.com/balcony'))).toBe(false);
    expect(parseJid('juliet@example.com').equals(parseJid('example.com'))).toBe(false);
  });

  it('gives the bare JID and a JID with another resource', () => {
    const full = parseJid('juliet@example.com/balcony');
    expect(full.isBare).toBe(false);
    expect(full.bare().toString()).toBe('juliet@example.com');
    expect(full.bare().isBare).toBe(true);
    const bare = full.bare();
    expect(bare.bare()).toBe(bare);
    expect(full.bare().withResource('chamber\u3000two').toString()).toBe('juliet@example.com/chamber two');
    expect(() => full.withResource('')).toThrow(JidError);
  });

  it('builds from parts, preparing each one', () => {
    expect(Jid.of('JULIET', 'Example.com', 'r').toString()).toBe('juliet@example.com/r');
    expect(Jid.of(undefined, 'example.com').toString()).toBe('example.com');
    expect(() => Jid.of('', 'example.com')).toThrow(JidError);
    expect(() => Jid.of('a@b', 'example.com')).toThrow(JidError);
  });

  it('round-trips through toString', () => {
    for (const value of ['juliet@example.com/foo@bar/baz', 'example.com/x', '\u03c3@xn--r8jz45g.jp']) {
      expect(parseJid(parseJid(value).toString()).equals(parseJid(value))).toBe(true);
      expect(parseJid(value).toString()).toBe(value);
    }
  });
});

import { describe, expect, it } from 'vitest';

import { saslprep } from './saslprep.js';

const failsWith = (code: string): unknown => expect.objectContaining({ name: 'SaslprepError', code });

describe('saslprep', () => {
  it('passes the RFC 4013 §3 examples', () => {
    expect(saslprep('I\u00ADX')).toBe('IX');
    expect(saslprep('user')).toBe('user');
    expect(saslprep('USER')).toBe('USER');
    expect(saslprep('\u00AA')).toBe('a');
    expect(saslprep('\u2168')).toBe('IX');
    expect(() => saslprep('\u0007')).toThrow(failsWith('HF_SASLPREP_PROHIBITED'));
    expect(() => saslprep('\u0627\u0031')).toThrow(failsWith('HF_SASLPREP_BIDI'));
  });

  it('maps non-ASCII spaces to SPACE and removes the characters mapped to nothing (§2.1)', () => {
    expect(saslprep('a\u00A0b\u3000c\u2003d')).toBe('a b c d');
    expect(saslprep('pass\u200Cword\u200D\uFE0F\uFEFF')).toBe('password');
    // In both B.1 and C.1.2: SPACE, like libidn and the npm saslprep packages.
    expect(saslprep('pass\u200Bword')).toBe('pass word');
    expect(saslprep('')).toBe('');
    expect(saslprep('\u00AD')).toBe('');
  });

  it('normalises with NFKC (§2.2) and leaves ordinary text alone', () => {
    expect(saslprep('\uFB01n\u00E9')).toBe('fin\u00E9');
    expect(saslprep('e\u0301')).toBe('\u00E9');
    expect(saslprep('\uFF21\uFF22')).toBe('AB');
    expect(saslprep('correct horse battery staple')).toBe('correct horse battery staple');
    expect(saslprep('Pässwörd-ÿ 日本語 😀')).toBe('Pässwörd-ÿ 日本語 😀');
  });

  it('prohibits the RFC 4013 §2.3 tables after normalisation', () => {
    const prohibited = [
      '\u0000',
      'a\u007Fb',
      '\u0085',
      '\u2028',
      '\u206A',
      '\uE000',
      '\u{F0000}',
      '\u{10FFFD}',
      '\uFDD0',
      '\uFFFF',
      '\u{1FFFE}',
      'a\uD800b',
      '\uDC00',
      '\uFFFD',
      '\u2FF0',
      '\u200E',
      '\u202E',
      '\u{E0001}',
      '\u{E0041}',
      '\u{1D173}',
    ];
    for (const input of prohibited) {
      expect(() => saslprep(input), JSON.stringify(input)).toThrow(failsWith('HF_SASLPREP_PROHIBITED'));
    }
  });

  it('never echoes the input in its error message', () => {
    expect(() => saslprep('hunter2\u0007')).toThrow(expect.not.objectContaining({ message: /hunter2/ }));
  });

  it('refuses unassigned code points in stored strings, allows them in queries (§2.5)', () => {
    expect(() => saslprep('a\u0378')).toThrow(failsWith('HF_SASLPREP_UNASSIGNED'));
    expect(saslprep('a\u0378', { allowUnassigned: true })).toBe('a\u0378');
  });

  it('applies the RFC 3454 §6 bidi rules with the exact Unicode 3.2 tables (§2.4)', () => {
    expect(saslprep('\u0627\u0628')).toBe('\u0627\u0628');
    expect(saslprep('\u05D0 1 \u05D1')).toBe('\u05D0 1 \u05D1');
    for (const input of [
      '\u0627a\u0628',
      '1\u0627',
      '\u05D0\u05D1!',
      'a\u05D0',
      // Devanagari digit zero: LCat in D.2 although it is a digit, which a letters-only guess would miss.
      '\u0627\u0966\u0628',
    ]) {
      expect(() => saslprep(input), JSON.stringify(input)).toThrow(failsWith('HF_SASLPREP_BIDI'));
    }
    // Characters added after Unicode 3.2 are neither RandALCat nor LCat.
    expect(saslprep('\u0627\u{1F600}\u0628')).toBe('\u0627\u{1F600}\u0628');
  });

  it('is idempotent on its output', () => {
    for (const input of ['I\u00ADX', '\u2168', '\uFB01n\u00E9', 'a\u00A0b', '\u0627\u0628', 'Ǆ']) {
      const once = saslprep(input);
      expect(saslprep(once)).toBe(once);
    }
  });
});

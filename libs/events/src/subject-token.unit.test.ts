import { describe, expect, it } from 'vitest';

import { SubjectTokenError, decodeToken, encodeToken } from './subject-token.js';

describe('subject tokens', () => {
  it('encodes JIDs readably and reversibly', () => {
    expect(encodeToken('alice@home.example')).toBe('alice=40home=2Eexample');
    expect(encodeToken('alice@home.example/phone 1')).toBe('alice=40home=2Eexample=2Fphone=201');
    expect(decodeToken('alice=40home=2Eexample')).toBe('alice@home.example');
  });

  it('never lets subject syntax through', () => {
    for (const dangerous of ['a.b', 'a*', '>', 'a b', 'a\tb', 'x=y', 'ü@例え.jp']) {
      const token = encodeToken(dangerous);
      expect(token).toMatch(/^[A-Za-z0-9_=-]+$/);
      expect(decodeToken(token)).toBe(dangerous);
    }
  });

  it('round-trips arbitrary Unicode strings', () => {
    let seed = 42;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < 500; i++) {
      const length = 1 + (next() % 24);
      const value = String.fromCodePoint(
        ...Array.from({ length }, () => {
          const cp = next() % 0x10ffff;
          return cp >= 0xd800 && cp <= 0xdfff ? 0x41 : cp;
        }),
      );
      expect(decodeToken(encodeToken(value))).toBe(value);
    }
  });

  it('keeps distinct strings distinct (case matters: JIDs are normalised before)', () => {
    expect(encodeToken('Alice')).not.toBe(encodeToken('alice'));
    expect(encodeToken('a=2E')).not.toBe(encodeToken('a.'));
  });

  it('rejects empty values and malformed tokens', () => {
    expect(() => encodeToken('')).toThrow(SubjectTokenError);
    for (const bad of ['', 'a.b', 'a=2', 'a=zz', '=2e', 'a b', '=FF']) {
      expect(() => decodeToken(bad), bad).toThrow(SubjectTokenError);
    }
  });
});

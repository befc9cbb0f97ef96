import { describe, expect, it } from 'vitest';

import {
  COUNTER_MODULUS,
  MAX_COUNTER,
  add,
  increment,
  isCounter,
  parseH,
  subtract,
  validateAck,
} from './counter.js';

/** mulberry32: a tiny seeded PRNG, so property runs are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / COUNTER_MODULUS;
  };
}

const RUNS = 1000;
const counterFrom = (random: () => number): number => Math.floor(random() * COUNTER_MODULUS);
const intBelow = (random: () => number, bound: number): number => Math.floor(random() * bound);
const invalidCounter: unknown = expect.objectContaining({ name: 'SmError', code: 'HF_SM_COUNTER_INVALID' });

describe('counter arithmetic (spec §1.3)', () => {
  it('increments modulo 2^32: after 4294967295 comes 0 (§7.11)', () => {
    expect(increment(0)).toBe(1);
    expect(increment(41)).toBe(42);
    expect(increment(MAX_COUNTER - 1)).toBe(MAX_COUNTER);
    expect(increment(MAX_COUNTER)).toBe(0);
  });

  it('adds and subtracts modulo 2^32', () => {
    expect(add(MAX_COUNTER, 3)).toBe(2);
    expect(add(5, 0)).toBe(5);
    expect(add(0, COUNTER_MODULUS)).toBe(0);
    expect(subtract(2, MAX_COUNTER)).toBe(3);
    expect(subtract(0, 1)).toBe(MAX_COUNTER);
    expect(subtract(7, 7)).toBe(0);
  });

  it('refuses values that are not counters, as a caller error with a stable code', () => {
    for (const bad of [-1, COUNTER_MODULUS, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(isCounter(bad)).toBe(false);
      expect(() => increment(bad), String(bad)).toThrow(invalidCounter);
      expect(() => subtract(bad, 0), String(bad)).toThrow(invalidCounter);
    }
    expect(() => add(0, -1)).toThrow(invalidCounter);
    expect(() => add(0, 0.5)).toThrow(invalidCounter);
    expect(isCounter(0)).toBe(true);
    expect(isCounter(MAX_COUNTER)).toBe(true);
  });

  it('property: add and subtract are inverse, increment is add 1 (seeded)', () => {
    const random = seeded(0x5eed);
    for (let run = 0; run < RUNS; run += 1) {
      const a = counterFrom(random);
      const b = counterFrom(random);
      expect(add(b, subtract(a, b))).toBe(a);
      expect(subtract(add(a, b), b)).toBe(a);
      expect(increment(a)).toBe(add(a, 1));
      expect(isCounter(subtract(a, b))).toBe(true);
    }
  });
});

describe('parseH (spec §1.3: decimal xs:unsignedInt)', () => {
  it('accepts 0..4294967295, leading zeros included', () => {
    expect(parseH('0')).toBe(0);
    expect(parseH('3')).toBe(3);
    expect(parseH('007')).toBe(7);
    expect(parseH('4294967295')).toBe(MAX_COUNTER);
    expect(parseH('0000000001')).toBe(1);
  });

  it('rejects absent, empty, signed, spaced, fractional, exponent, hex, too large and too long', () => {
    for (const text of [
      undefined,
      '',
      '-1',
      '+1',
      '-0',
      ' 1',
      '1 ',
      '1\n',
      '\t1',
      '1.0',
      '1e3',
      '0x10',
      'abc',
      '١٢',
      '4294967296',
      '9999999999',
      '00000000001',
      '12345678901',
      'NaN',
      'Infinity',
    ]) {
      expect(parseH(text), JSON.stringify(text)).toBeUndefined();
    }
  });

  it('property: round-trips every counter rendered in decimal (seeded)', () => {
    const random = seeded(42);
    for (let run = 0; run < RUNS; run += 1) {
      const value = counterFrom(random);
      expect(parseH(String(value))).toBe(value);
    }
  });
});

describe('validateAck (spec §1.3 window)', () => {
  it('given 5 sent and 2 acked, then h 2..5 are valid and acknowledge h − 2', () => {
    for (let h = 2; h <= 5; h += 1) {
      expect(validateAck({ h, acked: 2, sent: 5 })).toEqual({ ok: true, newlyAcked: h - 2 });
    }
  });

  it('given 2 sent, when h = 3, then too high (scenario 12)', () => {
    expect(validateAck({ h: 3, acked: 0, sent: 2 })).toEqual({ ok: false, kind: 'too-high' });
  });

  it('given 2 acked, when h = 1, then too low (scenario 13)', () => {
    expect(validateAck({ h: 1, acked: 2, sent: 2 })).toEqual({ ok: false, kind: 'too-low' });
  });

  it('given nothing sent, then only h = acked is valid (§7.10)', () => {
    expect(validateAck({ h: 0, acked: 0, sent: 0 })).toEqual({ ok: true, newlyAcked: 0 });
    expect(validateAck({ h: 1, acked: 0, sent: 0 })).toEqual({ ok: false, kind: 'too-high' });
    expect(validateAck({ h: MAX_COUNTER, acked: 0, sent: 0 })).toEqual({ ok: false, kind: 'too-low' });
  });

  it('accepts acks across the wrap (§7.11)', () => {
    const acked = MAX_COUNTER - 1;
    const sent = 3;
    expect(validateAck({ h: MAX_COUNTER, acked, sent })).toEqual({ ok: true, newlyAcked: 1 });
    expect(validateAck({ h: 0, acked, sent })).toEqual({ ok: true, newlyAcked: 2 });
    expect(validateAck({ h: 3, acked, sent })).toEqual({ ok: true, newlyAcked: 5 });
    expect(validateAck({ h: 4, acked, sent })).toEqual({ ok: false, kind: 'too-high' });
    expect(validateAck({ h: MAX_COUNTER - 2, acked, sent })).toEqual({ ok: false, kind: 'too-low' });
  });

  it('splits invalid h at half the range: (acked − h) mod 2^32 < 2^31 is too low', () => {
    const acked = 100;
    const sent = 100;
    const lowEdge = subtract(acked, 0x7fff_ffff);
    expect(validateAck({ h: lowEdge, acked, sent })).toEqual({ ok: false, kind: 'too-low' });
    expect(validateAck({ h: subtract(lowEdge, 1), acked, sent })).toEqual({ ok: false, kind: 'too-high' });
    expect(validateAck({ h: 101, acked, sent })).toEqual({ ok: false, kind: 'too-high' });
    expect(validateAck({ h: 99, acked, sent })).toEqual({ ok: false, kind: 'too-low' });
  });

  it('property: any h within the window is valid with newlyAcked = (h − acked) mod 2^32 (seeded)', () => {
    const random = seeded(7);
    for (let run = 0; run < RUNS; run += 1) {
      const acked = counterFrom(random);
      const window = intBelow(random, 10_000);
      const sent = add(acked, window);
      const delta = intBelow(random, window + 1);
      expect(validateAck({ h: add(acked, delta), acked, sent })).toEqual({ ok: true, newlyAcked: delta });
    }
  });

  it('property: h just past sent is too high, h just below acked is too low (seeded)', () => {
    const random = seeded(11);
    for (let run = 0; run < RUNS; run += 1) {
      const acked = counterFrom(random);
      const sent = add(acked, intBelow(random, 10_000));
      const over = 1 + intBelow(random, 1000);
      expect(validateAck({ h: add(sent, over), acked, sent })).toEqual({ ok: false, kind: 'too-high' });
      expect(validateAck({ h: subtract(acked, over), acked, sent })).toEqual({ ok: false, kind: 'too-low' });
    }
  });

  it('property: the verdict is invariant under shifting all three counters (seeded)', () => {
    const random = seeded(2024);
    for (let run = 0; run < RUNS; run += 1) {
      const h = counterFrom(random);
      const acked = counterFrom(random);
      const sent = add(acked, intBelow(random, 1 << 20));
      const shift = counterFrom(random);
      expect(validateAck({ h: add(h, shift), acked: add(acked, shift), sent: add(sent, shift) })).toEqual(
        validateAck({ h, acked, sent }),
      );
    }
  });
});

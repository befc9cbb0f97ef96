import { SmError } from './errors.js';

/** XEP-0198 §5 / spec §1.3: counters are 32-bit unsigned, arithmetic is modulo 2^32. */
export const COUNTER_MODULUS = 0x1_0000_0000;
export const MAX_COUNTER = 0xffff_ffff;

const HALF_RANGE = 0x8000_0000;
const DECIMAL = /^[0-9]{1,10}$/;

export function isCounter(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= MAX_COUNTER;
}

function assertCounter(value: number, what: string): void {
  if (!isCounter(value)) throw new SmError('HF_SM_COUNTER_INVALID', `${what} is not a 32-bit counter`);
}

/** Spec §1.3, §7.11: after 4294967295 comes 0. */
export function increment(n: number): number {
  return add(n, 1);
}

/** `(n + count) mod 2^32`, e.g. `sent` after a flushed batch of `count` stanzas. */
export function add(n: number, count: number): number {
  assertCounter(n, 'n');
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new SmError('HF_SM_COUNTER_INVALID', 'count is not a non-negative integer');
  }
  return (n + (count % COUNTER_MODULUS)) % COUNTER_MODULUS;
}

/** `(a − b) mod 2^32`: e.g. `unacked = subtract(sent, acked)` (spec §1.3, §2.4). */
export function subtract(a: number, b: number): number {
  assertCounter(a, 'a');
  assertCounter(b, 'b');
  return (a - b + COUNTER_MODULUS) % COUNTER_MODULUS;
}

/**
 * Spec §1.3: `h` on `<a/>` and `<resume/>` is a decimal xs:unsignedInt, 0..4294967295. Stricter than the
 * XSD lexical space on purpose: no sign, no whitespace, at most 10 digits. `undefined` when malformed
 * (absent included), so callers map it to `invalid-xml` (§1.5) or `bad-request` (§1.4).
 */
export function parseH(text: string | undefined): number | undefined {
  if (text === undefined || !DECIMAL.test(text)) return undefined;
  const value = Number(text);
  return value <= MAX_COUNTER ? value : undefined;
}

export interface AckWindow {
  /** The peer's claim: stanzas it handled from us. */
  readonly h: number;
  /** What it had acknowledged before. */
  readonly acked: number;
  /** What we have written so far. */
  readonly sent: number;
}

export type AckViolation = 'too-high' | 'too-low';

export type AckValidation =
  { readonly ok: true; readonly newlyAcked: number } | { readonly ok: false; readonly kind: AckViolation };

/**
 * Spec §1.3 window check **[ours; wrap-aware]**: `delta = (h − acked) mod 2^32` is valid iff
 * `delta ≤ (sent − acked) mod 2^32`; an invalid `h` is too low when `(acked − h) mod 2^32 < 2^31`.
 * An `h` equal to `acked` is valid and acknowledges nothing new (§7.10).
 */
export function validateAck(window: AckWindow): AckValidation {
  const { h, acked, sent } = window;
  const delta = subtract(h, acked);
  if (delta <= subtract(sent, acked)) return { ok: true, newlyAcked: delta };
  return { ok: false, kind: subtract(acked, h) < HALF_RANGE ? 'too-low' : 'too-high' };
}

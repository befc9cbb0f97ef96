import { SaslprepError } from './errors.js';
import { B1, C12, C21, C22, C3, C4, C6, C7, C8, C9, D1, D2 } from './stringprep-tables.js';

/** Sorted, non-overlapping `[start, end]` pairs, flattened. */
type RangeTable = Uint32Array;

function parseTable(ranges: string): RangeTable {
  const tokens = ranges.trim().split(/\s+/);
  const table = new Uint32Array(tokens.length * 2);
  tokens.forEach((token, i) => {
    const [start = '', end = start] = token.split('-');
    table[2 * i] = Number.parseInt(start, 16);
    table[2 * i + 1] = Number.parseInt(end, 16);
  });
  return table;
}

function inTable(table: RangeTable, codePoint: number): boolean {
  let low = 0;
  let high = table.length / 2 - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    if (codePoint < (table[2 * mid] ?? 0)) high = mid - 1;
    else if (codePoint > (table[2 * mid + 1] ?? 0)) low = mid + 1;
    else return true;
  }
  return false;
}

const MAPPED_TO_NOTHING = parseTable(B1);
const NON_ASCII_SPACE = parseTable(C12);
const RAND_AL_CAT = parseTable(D1);
const L_CAT = parseTable(D2);

/** RFC 4013 §2.3, in the order of RFC 3454 appendix C; C.5 (surrogates) is tested separately. */
const PROHIBITED: readonly (readonly [string, RangeTable])[] = [
  ['non-ASCII space (C.1.2)', NON_ASCII_SPACE],
  ['ASCII control (C.2.1)', parseTable(C21)],
  ['non-ASCII control (C.2.2)', parseTable(C22)],
  ['private use (C.3)', parseTable(C3)],
  ['non-character (C.4)', parseTable(C4)],
  ['inappropriate for plain text (C.6)', parseTable(C6)],
  ['inappropriate for canonical representation (C.7)', parseTable(C7)],
  ['display property changing or deprecated (C.8)', parseTable(C8)],
  ['tagging (C.9)', parseTable(C9)],
];

const UNASSIGNED = /^\p{Cn}$/u;

function codePointOf(char: string): number {
  return char.codePointAt(0) ?? 0;
}

function isSurrogate(codePoint: number): boolean {
  return codePoint >= 0xd800 && codePoint <= 0xdfff;
}

export interface SaslprepOptions {
  /**
   * RFC 3454 §7: a "query" may contain unassigned code points, a "stored string" must not. RFC 5802
   * §2.2 treats SCRAM passwords as stored strings, so the default is `false`.
   */
  readonly allowUnassigned?: boolean;
}

/**
 * SASLprep (RFC 4013), the stringprep (RFC 3454) profile for user names and passwords: map (§2.1),
 * normalise with NFKC (§2.2), prohibit (§2.3), check bidi (§2.4), then unassigned code points (§2.5).
 * Throws `SaslprepError`; the output may be empty (callers decide whether that is acceptable).
 *
 * Where this departs from a Unicode 3.2 implementation, and why:
 * - NFKC is the runtime's (`String.prototype.normalize`, current Unicode), not Unicode 3.2's. Unicode's
 *   normalisation stability policy makes these agree on every code point assigned in 3.2 except the
 *   handful fixed by normalisation corrigenda; they differ on characters assigned later that have
 *   compatibility decompositions (e.g. U+1F100 DIGIT ZERO FULL STOP becomes "0.").
 * - "Unassigned" means unassigned in the runtime's Unicode (`\p{Cn}`), not table A.1 (Unicode 3.2).
 *   Characters added since 2002, emoji among them, are therefore accepted in stored passwords; a strict
 *   3.2 implementation refuses them, yet clients prepare passwords as queries and send them unchanged.
 * - U+200B ZERO WIDTH SPACE is in both B.1 and C.1.2, which the RFCs leave ambiguous. It becomes SPACE:
 *   RFC 4013 §2.1 lists C.1.2 first, and libidn and the npm `saslprep` packages clients use do the same.
 * The bidi check uses the exact tables D.1 and D.2, so characters added after Unicode 3.2 count as
 * neither RandALCat nor LCat, as in every other SASLprep implementation.
 */
export function saslprep(input: string, options: SaslprepOptions = {}): string {
  let mapped = '';
  for (const char of input) {
    const codePoint = codePointOf(char);
    if (inTable(NON_ASCII_SPACE, codePoint)) mapped += ' ';
    else if (!inTable(MAPPED_TO_NOTHING, codePoint)) mapped += char;
  }
  const output = mapped.normalize('NFKC');

  let hasRandAL = false;
  let hasL = false;
  for (const char of output) {
    const codePoint = codePointOf(char);
    if (isSurrogate(codePoint)) {
      throw new SaslprepError('HF_SASLPREP_PROHIBITED', 'prohibited character: surrogate code (C.5)');
    }
    for (const [what, table] of PROHIBITED) {
      if (inTable(table, codePoint)) {
        throw new SaslprepError('HF_SASLPREP_PROHIBITED', `prohibited character: ${what}`);
      }
    }
    if (options.allowUnassigned !== true && UNASSIGNED.test(char)) {
      throw new SaslprepError('HF_SASLPREP_UNASSIGNED', 'unassigned code point in a stored string');
    }
    if (inTable(RAND_AL_CAT, codePoint)) hasRandAL = true;
    else if (inTable(L_CAT, codePoint)) hasL = true;
  }

  // RFC 3454 §6: right-to-left text must be purely right-to-left and start and end with such a character.
  if (hasRandAL) {
    const chars = Array.from(output);
    const first = codePointOf(chars[0] ?? '');
    const last = codePointOf(chars[chars.length - 1] ?? '');
    if (hasL || !inTable(RAND_AL_CAT, first) || !inTable(RAND_AL_CAT, last)) {
      throw new SaslprepError(
        'HF_SASLPREP_BIDI',
        'mixes left-to-right and right-to-left text or does not start and end with a right-to-left character',
      );
    }
  }
  return output;
}

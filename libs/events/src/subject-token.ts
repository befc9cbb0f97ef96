/**
 * Reversible encoding of arbitrary strings (JIDs, ids) into one NATS subject token that is also a valid
 * JetStream KV key: ASCII letters, digits, `-` and `_` stay; every other UTF-8 byte becomes `=XX`
 * (upper-case hex). `alice@home.example` → `alice=40home=2Eexample`. Injective, so distinct JIDs never
 * share a subject, and `.`, `*`, `>` and whitespace can never split or widen a subject.
 */
const SAFE = /^[A-Za-z0-9_-]$/;
const ENCODED = /^(?:[A-Za-z0-9_-]|=[0-9A-F]{2})+$/;

export class SubjectTokenError extends Error {
  override readonly name = 'SubjectTokenError';
  readonly code = 'HF_SUBJECT_TOKEN_INVALID';
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeToken(value: string): string {
  if (value === '') throw new SubjectTokenError('cannot encode an empty string as a subject token');
  let out = '';
  for (const byte of encoder.encode(value)) {
    const char = String.fromCharCode(byte);
    out += byte < 0x80 && SAFE.test(char) ? char : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeToken(token: string): string {
  if (!ENCODED.test(token))
    throw new SubjectTokenError(`not an encoded subject token: ${JSON.stringify(token)}`);
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '=') {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(token.charCodeAt(i));
    }
  }
  try {
    return decoder.decode(new Uint8Array(bytes));
  } catch (cause) {
    throw new SubjectTokenError(`subject token is not UTF-8: ${token}`, { cause });
  }
}

import { SaslFailure } from './errors.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict RFC 4648 §4 base64: padded, no whitespace, no URL alphabet, and canonical (non-zero padding
 * bits are refused), as RFC 4648 §3.3 asks of a decoder unless the referring spec says otherwise.
 * Node's own decoder silently skips anything it does not understand.
 */
export function decodeBase64(text: string): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/**
 * The character data of `<auth/>`, `<challenge/>`, `<response/>` and `<success/>` (RFC 6120 §6.4.2,
 * §6.4.3): empty content means "no data" (`undefined`), a single `=` means data of length zero. Anything
 * that is not strict base64 fails with `incorrect-encoding` (§6.5.4).
 */
export function decodeSaslPayload(text: string): Buffer | undefined {
  if (text === '') return undefined;
  if (text === '=') return Buffer.alloc(0);
  const bytes = decodeBase64(text);
  if (bytes === undefined) throw new SaslFailure('incorrect-encoding', 'SASL data is not valid base64');
  return bytes;
}

/** The inverse of `decodeSaslPayload`: data of length zero becomes `=`. */
export function encodeSaslPayload(data: Uint8Array): string {
  return data.length === 0
    ? '='
    : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

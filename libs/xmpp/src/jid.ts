import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';

/**
 * XMPP addresses, RFC 7622. `@xmpp/jid` 0.14 is not used: it implements RFC 6122 syntax only (split on
 * `/` and `@`, `toLowerCase()` of localpart and domainpart, no normalisation, no length limits, no
 * forbidden characters) and silently XEP-0106-escapes localparts that contain `" & ' / : < > @` or spaces
 * instead of rejecting them, so two spellings of one account could compare unequal.
 *
 * Preparation here is an honest approximation of the PRECIS profiles, not an implementation of them:
 * - localpart, UsernameCaseMapped (RFC 7613 §3.2, RFC 8265 §3.3): width mapping, `toLowerCase()`, NFC;
 *   then every code point must be in IdentifierClass as approximated by general category (LetterDigits:
 *   Ll Lu Lo Lm Nd Mn Mc, plus ASCII 0x21-0x7E), must have no compatibility decomposition (HasCompat:
 *   NFKC changes it) and must not be default-ignorable; RFC 7622 §3.3.1 further excludes
 *   `" & ' / : < > @`. Not done: the contextual rules for ZWJ/ZWNJ and friends (such code points are
 *   simply rejected), the Bidi rule (RFC 5893), Unicode-version pinning: the categories are those of the
 *   running Node's ICU.
 * - resourcepart, OpaqueString (RFC 7613 §4.2): non-ASCII spaces mapped to U+0020, NFC; every code point
 *   must be a letter, mark, number, punctuation, symbol or space separator (FreeformClass by category),
 *   and not default-ignorable. Case is preserved.
 * - domainpart (RFC 7622 §3.2): one trailing dot stripped first, then IDNA via WHATWG `domainToASCII`
 *   (UTS #46 mapping, which is more permissive than IDNA2008: it maps rather than rejects some code
 *   points), lower-cased A-labels; every label LDH, 1-63 octets, no leading or trailing hyphen (`_` is
 *   tolerated, as deployed servers use it); IPv4 dotted quads and bracketed IPv6 literals accepted.
 *   The canonical form stored and compared is ASCII.
 */

export type JidErrorCode =
  'HF_JID_LOCALPART_INVALID' | 'HF_JID_DOMAINPART_INVALID' | 'HF_JID_RESOURCEPART_INVALID';

/** The string is not a JID (maps to the `jid-malformed` stanza error, RFC 6120 §8.3.3.8). */
export class JidError extends Error {
  override readonly name = 'JidError';

  constructor(
    readonly code: JidErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** RFC 7622 §3.1: every part is 1 to 1023 octets once prepared. */
const MAX_PART_OCTETS = 1023;
/** Longer raw input cannot prepare to 1023 octets; refuse before normalising megabytes. */
const MAX_RAW_LENGTH = 4 * MAX_PART_OCTETS;

const WIDTH_MAPPED = /[\u3000\uFF01-\uFFEE]/gu;
const IDENTIFIER_CHAR = /^[\p{Ll}\p{Lu}\p{Lo}\p{Lm}\p{Nd}\p{Mn}\p{Mc}\x21-\x7E]$/u;
const FREEFORM_CHAR = /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]$/u;
const IGNORABLE = /\p{Default_Ignorable_Code_Point}/u;
const NON_ASCII_SPACE = /[^\P{Zs} ]/gu;
/** RFC 7622 §3.3.1. */
const LOCALPART_EXCLUDED = new Set(['"', '&', "'", '/', ':', '<', '>', '@']);
/** What the WHATWG host parser would read as URL syntax, percent-decode or choke on. */
const URL_SYNTAX = /[\p{Cc}\p{Zs}%/?#\\@:[\]<>^|]/u;
const LDH_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const ENDS_IN_NUMBER = /(?:^|\.)(?:\d+|0x[0-9a-f]*)$/i;

function octets(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

function checkLength(code: JidErrorCode, part: string, value: string): void {
  const length = octets(value);
  if (length === 0) throw new JidError(code, `empty ${part}`);
  if (length > MAX_PART_OCTETS) throw new JidError(code, `${part} longer than ${MAX_PART_OCTETS} octets`);
}

function codePoint(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

function prepareLocalpart(raw: string): string {
  const code = 'HF_JID_LOCALPART_INVALID';
  if (raw.length > MAX_RAW_LENGTH) throw new JidError(code, 'localpart too long');
  const prepared = raw
    .replace(WIDTH_MAPPED, (char) => char.normalize('NFKC'))
    .toLowerCase()
    .normalize('NFC');
  checkLength(code, 'localpart', prepared);
  for (const char of prepared) {
    if (
      LOCALPART_EXCLUDED.has(char) ||
      !IDENTIFIER_CHAR.test(char) ||
      IGNORABLE.test(char) ||
      char.normalize('NFKC') !== char
    ) {
      throw new JidError(code, `localpart contains a disallowed character (${codePoint(char)})`);
    }
  }
  return prepared;
}

function prepareResourcepart(raw: string): string {
  const code = 'HF_JID_RESOURCEPART_INVALID';
  if (raw.length > MAX_RAW_LENGTH) throw new JidError(code, 'resourcepart too long');
  const prepared = raw.replace(NON_ASCII_SPACE, ' ').normalize('NFC');
  checkLength(code, 'resourcepart', prepared);
  for (const char of prepared) {
    if (!FREEFORM_CHAR.test(char) || IGNORABLE.test(char)) {
      throw new JidError(code, `resourcepart contains a disallowed character (${codePoint(char)})`);
    }
  }
  return prepared;
}

function prepareDomainpart(raw: string): string {
  const code = 'HF_JID_DOMAINPART_INVALID';
  if (raw.length > MAX_RAW_LENGTH) throw new JidError(code, 'domainpart too long');
  // §3.2: a final label separator is stripped before any other canonicalization step.
  const domain = raw.endsWith('.') ? raw.slice(0, -1) : raw;
  if (domain === '') throw new JidError(code, 'empty domainpart');
  if (domain.startsWith('[')) {
    const ascii = domain.endsWith(']') && isIPv6(domain.slice(1, -1)) ? domainToASCII(domain) : '';
    if (ascii === '') throw new JidError(code, 'domainpart is not an IPv6 literal');
    return ascii;
  }
  if (URL_SYNTAX.test(domain)) throw new JidError(code, 'domainpart contains a disallowed character');
  const ascii = domainToASCII(domain);
  if (ascii === '') throw new JidError(code, 'domainpart is not a valid domain name');
  if (ENDS_IN_NUMBER.test(ascii)) {
    // The WHATWG parser reads hex, octal and short forms as IPv4 (`0x7f.1` → `127.0.0.1`): only a
    // dotted quad written as such is an address here.
    if (ascii !== domain || !isIPv4(domain)) throw new JidError(code, 'domainpart is not an IPv4 address');
    return domain;
  }
  for (const label of ascii.split('.')) {
    if (!LDH_LABEL.test(label)) throw new JidError(code, 'domainpart has an empty or invalid label');
  }
  checkLength(code, 'domainpart', ascii);
  return ascii;
}

/** An immutable, prepared JID. Build one with `parseJid` or `Jid.of`; compare with `equals`. */
export class Jid {
  private constructor(
    /** Prepared localpart, `undefined` for a domain JID. */
    readonly local: string | undefined,
    /** Prepared domainpart: lower-case ASCII (A-labels), or an IP literal. */
    readonly domain: string,
    /** Prepared resourcepart, `undefined` for a bare JID. */
    readonly resource: string | undefined,
  ) {}

  /**
   * RFC 7622 §3.1: the resourcepart is everything after the first `/`, the localpart everything before
   * the first `@` of what remains. Separators are found before any part is prepared, so a code point that
   * normalises to `@` or `/` cannot move a boundary.
   */
  static parse(value: string): Jid {
    const slash = value.indexOf('/');
    const resource = slash === -1 ? undefined : value.slice(slash + 1);
    const rest = slash === -1 ? value : value.slice(0, slash);
    const at = rest.indexOf('@');
    const local = at === -1 ? undefined : rest.slice(0, at);
    return Jid.of(local, at === -1 ? rest : rest.slice(at + 1), resource);
  }

  /** Prepares and checks each part; `undefined` leaves a part out, `''` is rejected as empty. */
  static of(local: string | undefined, domain: string, resource?: string): Jid {
    return new Jid(
      local === undefined ? undefined : prepareLocalpart(local),
      prepareDomainpart(domain),
      resource === undefined ? undefined : prepareResourcepart(resource),
    );
  }

  get isBare(): boolean {
    return this.resource === undefined;
  }

  bare(): Jid {
    return this.resource === undefined ? this : new Jid(this.local, this.domain, undefined);
  }

  withResource(resource: string): Jid {
    return new Jid(this.local, this.domain, prepareResourcepart(resource));
  }

  equals(other: Jid): boolean {
    return this.local === other.local && this.domain === other.domain && this.resource === other.resource;
  }

  toString(): string {
    const bare = this.local === undefined ? this.domain : `${this.local}@${this.domain}`;
    return this.resource === undefined ? bare : `${bare}/${this.resource}`;
  }
}

/** RFC 7622 §3: parse and prepare `value`; throws `JidError` if it is not a JID. */
export function parseJid(value: string): Jid {
  return Jid.parse(value);
}

/**
 * The RFC 7622 prepared form of a JID, or the value as written when it is not a JID (then it equals
 * no prepared JID): for comparing addresses taken from stanzas.
 */
export function canonicalJid(value: string): string {
  try {
    return parseJid(value).toString();
  } catch (error) {
    if (error instanceof JidError) return value;
    throw error;
  }
}

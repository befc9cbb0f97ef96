import { NS } from './namespaces.js';
import { xml } from './xml.js';
import type { Element, XmlNode } from './xml.js';

export type XmlSerializeErrorCode = 'HF_XML_INVALID_NAME' | 'HF_XML_INVALID_CHAR' | 'HF_XML_INVALID_VALUE';

/**
 * The tree cannot be written as well-formed XML 1.0: a name that is not a QName, a code point that XML
 * cannot carry at all (U+0000-U+001F other than tab, LF and CR; U+FFFE, U+FFFF; lone surrogates), or
 * an attribute value that is an object.
 * A caller bug, never a client's: parsed input cannot contain either.
 */
export class XmlSerializeError extends Error {
  override readonly name = 'XmlSerializeError';

  constructor(
    readonly code: XmlSerializeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// XML 1.0 (5th ed.) §2.3 NameStartChar / NameChar without ':', i.e. Namespaces in XML §3 NCName.
const NC_START = String.raw`A-Z_a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\u{10000}-\u{EFFFF}`;
const NC_CHAR = String.raw`\u0300-\u036F${NC_START}\-.0-9\u00B7\u203F-\u2040`;
const NC_NAME = `[${NC_START}][${NC_CHAR}]*`;
const QNAME = new RegExp(`^${NC_NAME}(?::${NC_NAME})?$`, 'u');
/** XML 1.0 §2.2 Char, negated. In `u` mode a lone surrogate is a code point outside every range. */
const NOT_XML_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};
const escape = (char: string): string => ESCAPES[char] ?? char;

function checkChars(value: string): string {
  const bad = NOT_XML_CHAR.exec(value);
  if (bad) {
    const code = bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    throw new XmlSerializeError('HF_XML_INVALID_CHAR', `U+${code} cannot be represented in XML 1.0`);
  }
  return value;
}

function checkName(name: string): string {
  if (!QNAME.test(name))
    throw new XmlSerializeError('HF_XML_INVALID_NAME', `not an XML name: ${JSON.stringify(name)}`);
  return name;
}

/**
 * Text: `&`, `<`, `>` (so `]]>` cannot occur) and CR, which XML §2.11 end-of-line handling would turn into
 * LF. ltx's `escapeXMLText` leaves CR alone.
 */
export function escapeText(value: string): string {
  return checkChars(value).replace(/[&<>\r]/g, escape);
}

/**
 * Attribute values: markup characters, both quotes, and tab, LF and CR, which XML §3.3.3 attribute-value
 * normalisation would turn into spaces. ltx's `escapeXML` leaves the whitespace alone.
 */
export function escapeAttribute(value: string): string {
  return checkChars(value).replace(/[&<>"'\t\n\r]/g, escape);
}

function attributeText(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  throw new XmlSerializeError('HF_XML_INVALID_VALUE', `attribute ${name} is not a string`);
}

function write(node: XmlNode, out: string[]): void {
  if (typeof node === 'string') {
    out.push(escapeText(node));
    return;
  }
  const name = checkName(node.name);
  out.push('<', name);
  // ltx tolerates non-string values (numbers) and skips nullish ones; builders and callers rely on both.
  for (const [key, value] of Object.entries(node.attrs as Record<string, unknown>)) {
    if (value == null) continue;
    out.push(' ', checkName(key), '="', escapeAttribute(attributeText(key, value)), '"');
  }
  const children = node.children.filter((child) => (child as XmlNode | null | undefined) != null);
  if (children.length === 0) {
    out.push('/>');
    return;
  }
  out.push('>');
  for (const child of children) write(child, out);
  out.push('</', name, '>');
}

/**
 * An element (or text) as XML, the shape of ltx's `toString()` with two differences: escaping that
 * survives a parser's end-of-line and attribute-value normalisation (see `escapeText`,
 * `escapeAttribute`), and an `XmlSerializeError` instead of output no parser would accept. Elements
 * from `StreamParser` declare every namespace they use, so the string is complete on its own.
 */
export function serialize(node: XmlNode): string {
  const out: string[] = [];
  write(node, out);
  return out.join('');
}

export interface StreamHeaderOptions {
  /** RFC 6120 §4.7.1: the server's domain. */
  readonly from: string;
  /** RFC 6120 §4.7.3: unique, unpredictable stream id. */
  readonly id: string;
  /** RFC 6120 §4.7.2: the client's JID, when known (after authentication). */
  readonly to?: string | undefined;
  /** RFC 6120 §4.7.4: default language of the stream. */
  readonly lang?: string | undefined;
  /** RFC 6120 §4.7.5; `1.0` unless set. */
  readonly version?: string | undefined;
  /** RFC 6120 §4.8.2; `jabber:client` unless set. */
  readonly contentNamespace?: string | undefined;
}

function headerAttrs(options: StreamHeaderOptions): [string, string][] {
  const attrs: [string, string][] = [
    ['from', options.from],
    ['id', options.id],
  ];
  if (options.to !== undefined) attrs.push(['to', options.to]);
  attrs.push(['version', options.version ?? '1.0']);
  if (options.lang !== undefined) attrs.push(['xml:lang', options.lang]);
  return attrs;
}

/**
 * The response stream header over TCP (RFC 6120 §4.7, example in §9.1.1): an XML declaration and the
 * `<stream:stream>` open tag, never closed here (see `STREAM_CLOSE`).
 */
export function streamHeader(options: StreamHeaderOptions): string {
  const attrs: [string, string][] = [
    ['xmlns', options.contentNamespace ?? NS.CLIENT],
    ['xmlns:stream', NS.STREAM],
    ...headerAttrs(options),
  ];
  const rendered = attrs.map(([key, value]) => ` ${key}='${escapeAttribute(value)}'`).join('');
  return `<?xml version='1.0'?><stream:stream${rendered}>`;
}

/** RFC 6120 §4.4: the closing tag of the stream. */
export const STREAM_CLOSE = '</stream:stream>';

/** RFC 7395 §3.4: the `<open/>` that starts (or restarts) a stream over WebSocket. */
export function openElement(options: Omit<StreamHeaderOptions, 'contentNamespace'>): Element {
  return xml('open', { xmlns: NS.FRAMING, ...Object.fromEntries(headerAttrs(options)) });
}

/** RFC 7395 §3.6: `<close/>`, with `see-other-uri` to redirect the client (§3.6.1). */
export function closeElement(options: { readonly seeOtherUri?: string } = {}): Element {
  return xml('close', { xmlns: NS.FRAMING, 'see-other-uri': options.seeOtherUri });
}

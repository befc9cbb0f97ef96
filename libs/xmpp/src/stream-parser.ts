import { TextDecoder } from 'node:util';

import { SaxesParser } from 'saxes';
import type { SaxesAttributeNSIncomplete, SaxesTagNS, XMLDecl } from 'saxes';

import { NS } from './namespaces.js';
import { StreamError } from './stream-error.js';
import type { StreamErrorCondition } from './stream-error.js';
import { Element } from './xml.js';
import type { XmlAttrs } from './xml.js';

/**
 * `stream`: one XML document over a byte stream (TCP, RFC 6120 §4): `<stream:stream>` opens it, every
 * child of the root is a top-level element, `</stream:stream>` ends it; `write()` takes chunks cut
 * anywhere.
 *
 * `framed`: WebSocket (RFC 7395 §3.3): every `write()` is one whole message holding one complete
 * element; `<open/>` and `<close/>` in `urn:ietf:params:xml:ns:xmpp-framing` stand for the stream
 * header and footer. As Prosody does, a message may leave the content namespace and the `stream` prefix
 * undeclared: they default to `contentNamespace` and `http://etherx.jabber.org/streams`. A message of
 * whitespace only is ignored.
 */
export type StreamParserMode = 'stream' | 'framed';

export interface StreamParserOptions {
  readonly mode?: StreamParserMode;
  /** Default namespace the stream must declare (RFC 6120 §4.8.2); `jabber:client` unless set. */
  readonly contentNamespace?: string;
  /**
   * Largest top-level element, in UTF-8 bytes of input from its `<` to its last `>` (RFC 6120 §13.12,
   * denial of service). The stream header is held to the same cap, and so is a whole WebSocket message.
   */
  readonly maxStanzaSize?: number;
  /** Deepest nesting; a top-level element is at depth 1. */
  readonly maxDepth?: number;
  /** Most attributes on one element, namespace declarations included. */
  readonly maxAttributes?: number;
  /** Longest attribute value, in UTF-8 bytes after entity expansion. */
  readonly maxAttributeSize?: number;
}

export const STREAM_PARSER_DEFAULTS = Object.freeze({
  mode: 'stream',
  contentNamespace: NS.CLIENT,
  maxStanzaSize: 262_144,
  maxDepth: 64,
  maxAttributes: 64,
  maxAttributeSize: 16_384,
} as const satisfies Required<StreamParserOptions>);

/** Where parsed input goes. Calls come synchronously from `write()`, in input order. */
export interface StreamParserHandler {
  /**
   * The stream header: `<stream:stream>` (stream mode) or `<open/>` (framed mode). `attrs` are the
   * attributes by qualified name (`to`, `version`, `xml:lang`, ...), namespace declarations left out.
   */
  streamStart(attrs: Readonly<Record<string, string>>): void;
  /** One complete top-level element (stanza or nonza); see `StreamParser` for its shape. */
  element(element: Element): void;
  /** `</stream:stream>` or `<close/>`. */
  streamEnd(): void;
  /** The first and only error: nothing else is delivered after it. Close the stream with it. */
  error(error: StreamError): void;
}

type SaxesOptionsNS = {
  xmlns: true;
  fragment: false;
  position: true;
  forceXMLVersion: true;
  defaultXMLVersion: '1.0';
  additionalNamespaces?: Record<string, string>;
};

/** Unwinds saxes from inside one of our callbacks; never leaves `write()`. */
class Abort extends Error {
  override readonly name = 'Abort';
}
const ABORT = new Abort('parser stopped');

const EMPTY = new Uint8Array(0);
const DECODE_LENGTH = 65_536;
/** Input is fed to saxes in slices this long, so limits are checked while a huge chunk is parsed. */
const SLICE_LENGTH = 16_384;
const LT = 0x3c;
const CR = 0x0d;
/** In `u` mode a surrogate matches only when it is not half of a pair. */
const LONE_SURROGATE = /\p{Cs}/u;
const ONLY_XML_SPACE = /^[ \t\r\n]*$/;
const isXmlSpace = (code: number): boolean =>
  code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
/** XML 1.0 §2.2 Char for one UTF-16 unit, surrogates counted as valid (pairs are checked elsewhere). */
const isXmlCharUnit = (code: number): boolean =>
  code >= 0x20 ? code !== 0xfffe && code !== 0xffff : isXmlSpace(code);

/**
 * Saxes reports every problem as a message; these are the ones that are XML features RFC 6120 §11.1
 * forbids rather than broken XML. Everything else it reports is `not-well-formed`.
 */
const RESTRICTED_MESSAGES =
  /doctype|processing instruction|XML declaration must (?:be|appear) at the start|undefined entity|malformed comment/i;
const MISMATCHED_CLOSE = /unexpected close tag\.$/;
const POSITION_PREFIX = /^\d+:\d+: /;

const isDeclaration = (name: string): boolean => name === 'xmlns' || name.startsWith('xmlns:');

/**
 * Incremental, namespace-aware XMPP stream parser on saxes, producing `@xmpp/xml` elements.
 *
 * Element shape: every element is named by its local name, never a prefix, and carries its namespace in
 * an `xmlns` attribute: always on the top-level element, on a descendant only where it differs from its
 * parent. So `<stream:features>` arrives as `features` with `xmlns='http://etherx.jabber.org/streams'`,
 * and `<message>` inheriting `jabber:client` from the stream root arrives with `xmlns='jabber:client'`.
 * Source prefixes and namespace declarations are dropped; a prefixed attribute keeps its qualified name
 * and gets the declaration of its prefix on its own element (`xml:` needs none). This is not the xmpp.js
 * convention (source names such as `stream:features`, namespaces inherited through a `parent` link to
 * the stream root): each element here is complete on its own, `is(name, ns)`, `getChild(name, ns)` and
 * `getNS()` work without a parent, and `serialize()` of it re-parses to the same tree anywhere: inside
 * another stream, as a WebSocket message, or from a NATS message. Text is kept exactly, entities and
 * character references decoded, CDATA sections merged into the text around them.
 *
 * Errors (RFC 6120 §4.9.3), all fatal:
 * - `not-well-formed`: anything XML 1.0 or Namespaces in XML rejects (mismatched tags, bad names,
 *   unbound prefixes, duplicate attributes, characters outside XML's Char production, raw or by
 *   reference, a second root, text outside the root), and input bytes that are not UTF-8.
 * - `restricted-xml` (§11.1): DOCTYPE, processing instructions, comments, and references to entities
 *   other than the five predefined ones. Without a DTD those entities are undefined, which XML calls a
 *   well-formedness error; they are reported as restricted because declaring them is what XMPP forbids.
 *   The XML declaration at the very start of a stream (or of a WebSocket message) is allowed.
 * - `unsupported-encoding` (§11.6): an XML declaration naming an encoding other than UTF-8.
 * - `invalid-namespace` (§4.8.1, §4.8.2): a root that is not `stream` in the streams namespace, or whose
 *   default namespace is not `contentNamespace`. Any prefix may be bound to the streams namespace.
 * - `bad-format`: character data between top-level elements (whitespace is fine and ignored, §11.7),
 *   a framing `<open/>` or `<close/>` with content.
 * - `policy-violation`: a limit of `StreamParserOptions` exceeded.
 * - `internal-server-error`: a handler threw (the exception is the error's `cause`).
 *
 * After the first error the parser is dead: `write()` ignores input and nothing more is delivered.
 * `write()` never throws, except to pass on an exception thrown by the handler's own `error()`.
 */
export class StreamParser {
  private readonly mode: StreamParserMode;
  private readonly contentNamespace: string;
  private readonly maxStanzaSize: number;
  private readonly maxDepth: number;
  private readonly maxAttributes: number;
  private readonly maxAttributeSize: number;

  private saxes!: SaxesParser<SaxesOptionsNS>;
  /** Never streaming (each call decodes complete sequences); BOMs are kept for saxes to judge. */
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private pendingBytes: Uint8Array = EMPTY;
  private failed: StreamError | undefined;
  private rethrow: { error: unknown } | undefined;
  private writing = false;
  private resetRequested = false;
  private queue: (Uint8Array | string)[] = [];

  /** Open elements below the stream root, outermost first, and their namespaces. */
  private stack: Element[] = [];
  private uris: string[] = [];
  private attributeCount = 0;
  private rootOpen = false;
  private ended = false;
  /** The event that completes a top-level element or the stream, held until saxes accepts its end tag. */
  private pending: (() => void) | undefined;
  /** Framed mode: what the current message turned out to be, delivered once it parsed completely. */
  private message: (() => void) | undefined;

  // Stream mode accounting. Positions count UTF-16 units fed to saxes; bytes count UTF-8 input.
  private carry = '';
  private slice = '';
  private slicePosition = 0;
  /** Bytes of input consumed before the current slice (whitespace skipped in gaps included). */
  private consumedBytes = 0;
  private cursorIndex = 0;
  private cursorBytes = 0;
  /** Byte offset where the current unit (stream header or top-level element) began. */
  private unitStart: number | undefined;
  /** Between top-level elements, before the next `<`: only whitespace is allowed. */
  private inGap = false;
  private gapIndex = 0;

  constructor(
    private readonly handler: StreamParserHandler,
    options: StreamParserOptions = {},
  ) {
    this.mode = options.mode ?? STREAM_PARSER_DEFAULTS.mode;
    this.contentNamespace = options.contentNamespace ?? STREAM_PARSER_DEFAULTS.contentNamespace;
    this.maxStanzaSize = options.maxStanzaSize ?? STREAM_PARSER_DEFAULTS.maxStanzaSize;
    this.maxDepth = options.maxDepth ?? STREAM_PARSER_DEFAULTS.maxDepth;
    this.maxAttributes = options.maxAttributes ?? STREAM_PARSER_DEFAULTS.maxAttributes;
    this.maxAttributeSize = options.maxAttributeSize ?? STREAM_PARSER_DEFAULTS.maxAttributeSize;
    this.init();
  }

  /** Read through a getter so that no narrowing of `failed` survives a call that may set it. */
  private get dead(): boolean {
    return this.failed !== undefined;
  }

  /** The error that stopped the parser, if any. */
  get error(): StreamError | undefined {
    return this.failed;
  }

  /**
   * Stream mode: the next chunk, cut anywhere (inside a tag, an entity, a UTF-8 sequence). Framed mode:
   * one complete WebSocket message. Strings are taken as already decoded text.
   */
  write(data: Uint8Array | string): void {
    if (this.failed !== undefined) return;
    this.queue.push(data);
    if (this.writing) return;
    this.writing = true;
    try {
      for (let next = this.queue.shift(); next !== undefined && !this.dead; next = this.queue.shift()) {
        this.process(next);
      }
    } finally {
      this.writing = false;
      this.queue = [];
    }
    const rethrow = this.rethrow;
    this.rethrow = undefined;
    if (rethrow !== undefined) throw rethrow.error;
  }

  /**
   * Stream restart (RFC 6120 §4.3.3, after STARTTLS and SASL success): forget everything, including
   * input received but not yet parsed, and expect a new stream header. Dropping that input is what
   * keeps plaintext sent after `<starttls/>` from being read as if it came over TLS. From inside a
   * handler, takes effect as soon as the handler returns. A failed parser stays failed.
   */
  reset(): void {
    this.queue = [];
    if (this.writing) {
      this.resetRequested = true;
      return;
    }
    this.init();
  }

  private init(): void {
    const framed = this.mode === 'framed';
    const options: SaxesOptionsNS = {
      xmlns: true,
      fragment: false,
      position: true,
      // XML 1.0 §2.8: a 1.0 processor reads a document labelled 1.x as 1.0.
      forceXMLVersion: true,
      defaultXMLVersion: '1.0',
    };
    if (framed) options.additionalNamespaces = { '': this.contentNamespace, stream: NS.STREAM };
    this.saxes = new SaxesParser(options);
    this.saxes.on('xmldecl', this.onXmlDecl);
    this.saxes.on('opentagstart', this.onOpenTagStart);
    this.saxes.on('attribute', this.onAttribute);
    this.saxes.on('opentag', this.onOpenTag);
    this.saxes.on('closetag', this.onCloseTag);
    this.saxes.on('cdata', this.onCData);
    this.saxes.on('comment', this.onComment);
    this.saxes.on('processinginstruction', this.onProcessingInstruction);
    this.saxes.on('doctype', this.onDoctype);
    this.saxes.on('error', this.onSaxesError);
    this.pendingBytes = EMPTY;
    this.stack = [];
    this.uris = [];
    this.attributeCount = 0;
    this.rootOpen = false;
    this.ended = false;
    this.pending = undefined;
    this.message = undefined;
    this.carry = '';
    this.slice = '';
    this.slicePosition = 0;
    this.consumedBytes = 0;
    this.cursorIndex = 0;
    this.cursorBytes = 0;
    this.unitStart = framed ? undefined : 0;
    this.inGap = false;
    this.gapIndex = 0;
  }

  private process(data: Uint8Array | string): void {
    try {
      if (this.mode === 'framed') this.processMessage(data);
      else this.processChunk(data);
    } catch (cause) {
      if (cause !== ABORT) this.fail(new StreamError('internal-server-error', { cause }));
    }
    if (this.resetRequested) {
      this.resetRequested = false;
      if (!this.dead) this.init();
    }
  }

  private processChunk(data: Uint8Array | string): void {
    if (typeof data === 'string') {
      this.feedText(data, true);
      return;
    }
    // Decoded piece by piece: a huge chunk that fails early is not decoded in full first.
    for (let offset = 0; offset < data.length && !this.dead; offset += DECODE_LENGTH) {
      this.feedText(this.decode(data.subarray(offset, offset + DECODE_LENGTH)), false);
    }
  }

  /**
   * UTF-8 across chunk boundaries: an incomplete sequence at the end waits for the next chunk. Not
   * `StringDecoder`, which replaces invalid bytes with U+FFFD instead of failing, and not a streaming
   * `TextDecoder`, which fails a whole chunk at once: what precedes bad bytes is delivered first, as if the
   * chunk had been cut right before them, so the outcome never depends on where chunks are cut.
   */
  private decode(data: Uint8Array): string {
    const input = this.pendingBytes.length === 0 ? data : Buffer.concat([this.pendingBytes, data]);
    const end = completeSequences(input);
    let text: string;
    try {
      text = this.decoder.decode(input.subarray(0, end));
    } catch (cause) {
      this.pendingBytes = EMPTY;
      this.feedText(decodeValidPrefix(input), false);
      this.abort('not-well-formed', 'input is not UTF-8', cause);
    }
    this.pendingBytes = Uint8Array.prototype.slice.call(input, end);
    return text;
  }

  /** `unchecked`: text that did not come out of the UTF-8 decoder may hold unpaired surrogates. */
  private feedText(input: string, unchecked: boolean): void {
    let text = this.carry + input;
    this.carry = '';
    // saxes holds back a trailing CR (it may start CRLF) and a trailing high surrogate, which would shift
    // its positions against ours; hold them back here instead.
    const last = text.charCodeAt(text.length - 1);
    if (last === CR || isHighSurrogate(last)) {
      this.carry = text.slice(-1);
      text = text.slice(0, -1);
    }
    if (unchecked && LONE_SURROGATE.test(text))
      this.abort('not-well-formed', 'input has an unpaired surrogate');
    let offset = 0;
    while (offset < text.length) {
      if (this.inGap) {
        offset = this.skipGap(text, offset);
        if (offset === text.length) break;
      }
      let end = Math.min(offset + SLICE_LENGTH, text.length);
      if (end < text.length) {
        const code = text.charCodeAt(end - 1);
        if (code === CR || isHighSurrogate(code)) end -= 1;
      }
      this.feed(text.slice(offset, end));
      offset = end;
    }
  }

  private processMessage(data: Uint8Array | string): void {
    const size = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
    if (size > this.maxStanzaSize) {
      this.abort('policy-violation', `message exceeds ${this.maxStanzaSize} bytes`);
    }
    let text: string;
    if (typeof data === 'string') {
      text = data;
    } else {
      try {
        text = this.decoder.decode(data);
      } catch (cause) {
        this.abort('not-well-formed', 'message is not UTF-8', cause);
      }
    }
    if (LONE_SURROGATE.test(text)) this.abort('not-well-formed', 'message has an unpaired surrogate');
    if (ONLY_XML_SPACE.test(text)) return;
    this.message = undefined;
    this.saxes.write(text).close();
    const deliver = this.message as (() => void) | undefined;
    this.message = undefined;
    if (deliver !== undefined) this.deliver(deliver);
  }

  /** Stream mode: whitespace between top-level elements never reaches saxes, so it cannot pile up there. */
  private skipGap(text: string, offset: number): number {
    let index = offset;
    while (index < text.length && isXmlSpace(text.charCodeAt(index))) index += 1;
    this.consumedBytes += index - offset;
    if (index === text.length) return index;
    const code = text.charCodeAt(index);
    if (code !== LT) this.junk(code);
    this.inGap = false;
    this.unitStart = this.consumedBytes;
    return index;
  }

  private feed(slice: string): void {
    this.slice = slice;
    this.cursorIndex = 0;
    this.cursorBytes = this.consumedBytes;
    this.saxes.write(slice);
    this.sync(slice.length);
    this.slicePosition += slice.length;
    this.consumedBytes = this.bytesAt(slice.length);
    if (this.unitStart !== undefined && this.consumedBytes - this.unitStart > this.maxStanzaSize) {
      this.abort('policy-violation', `top-level element exceeds ${this.maxStanzaSize} bytes`);
    }
  }

  /** Index in the current slice of the character saxes reads next. */
  private index(): number {
    return this.saxes.position - this.slicePosition;
  }

  /** Byte offset in the whole input of `index` in the current slice. */
  private bytesAt(index: number): number {
    if (index >= this.cursorIndex) {
      this.cursorBytes += Buffer.byteLength(this.slice.slice(this.cursorIndex, index), 'utf8');
    } else {
      this.cursorBytes -= Buffer.byteLength(this.slice.slice(index, this.cursorIndex), 'utf8');
    }
    this.cursorIndex = index;
    return this.cursorBytes;
  }

  /**
   * Brings our view up to where saxes is, before anything else happens: delivers an element whose end
   * tag saxes has accepted by moving on, and checks that a gap that began in this slice is whitespace up
   * to the next `<`, which starts the next unit.
   */
  private sync(upTo: number): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending !== undefined) this.deliver(pending);
    if (!this.inGap || this.mode === 'framed') return;
    for (let index = this.gapIndex; index < upTo; index += 1) {
      const code = this.slice.charCodeAt(index);
      if (isXmlSpace(code)) continue;
      if (code !== LT) this.junk(code);
      this.inGap = false;
      this.unitStart = this.bytesAt(index);
      return;
    }
    this.gapIndex = upTo;
  }

  private junk(code: number): never {
    if (isXmlCharUnit(code)) this.abort('bad-format', 'character data between top-level elements');
    this.abort('not-well-formed', 'character not allowed in XML');
  }

  private readonly onXmlDecl = (declaration: XMLDecl): void => {
    this.sync(this.index());
    const { encoding } = declaration;
    if (encoding !== undefined && encoding.toLowerCase() !== 'utf-8') {
      this.abort('unsupported-encoding', `encoding ${encoding} is not UTF-8`);
    }
  };

  private readonly onOpenTagStart = (): void => {
    this.sync(this.index());
    this.attributeCount = 0;
    // A second root: saxes reports it right after this event.
    if (this.ended || this.message !== undefined) return;
    const isRoot = this.mode === 'stream' && !this.rootOpen;
    if (!isRoot && this.stack.length + 1 > this.maxDepth) {
      this.abort('policy-violation', `elements nested deeper than ${this.maxDepth}`);
    }
  };

  private readonly onAttribute = (attribute: SaxesAttributeNSIncomplete): void => {
    this.attributeCount += 1;
    if (this.attributeCount > this.maxAttributes) {
      this.abort('policy-violation', `more than ${this.maxAttributes} attributes on an element`);
    }
    if (Buffer.byteLength(attribute.value, 'utf8') > this.maxAttributeSize) {
      this.abort('policy-violation', `attribute value exceeds ${this.maxAttributeSize} bytes`);
    }
  };

  private readonly onOpenTag = (tag: SaxesTagNS): void => {
    if (this.ended || this.message !== undefined) return;
    if (this.mode === 'stream' && !this.rootOpen) {
      this.openStream(tag);
      return;
    }
    const parentUri = this.uris.at(-1);
    const attrs: XmlAttrs = {};
    if (parentUri !== tag.uri || this.stack.length === 0) attrs.xmlns = tag.uri;
    for (const attribute of Object.values(tag.attributes)) {
      if (isDeclaration(attribute.name)) continue;
      setAttr(attrs, attribute.name, attribute.value);
      if (attribute.prefix !== '' && attribute.prefix !== 'xml') {
        setAttr(attrs, `xmlns:${attribute.prefix}`, attribute.uri);
      }
    }
    const element = new Element(tag.local);
    element.attrs = attrs;
    const parent = this.stack.at(-1);
    if (parent === undefined) this.saxes.on('text', this.onText);
    else parent.append(element);
    this.stack.push(element);
    this.uris.push(tag.uri);
  };

  private openStream(tag: SaxesTagNS): void {
    if (tag.local !== 'stream' || tag.uri !== NS.STREAM) {
      this.abort('invalid-namespace', `the stream root must be stream in ${NS.STREAM}`);
    }
    if (tag.ns[''] !== this.contentNamespace) {
      this.abort('invalid-namespace', `the default namespace must be ${this.contentNamespace}`);
    }
    const index = this.index();
    if (this.bytesAt(index) - (this.unitStart ?? 0) > this.maxStanzaSize) {
      this.abort('policy-violation', `stream header exceeds ${this.maxStanzaSize} bytes`);
    }
    const attrs: Record<string, string> = {};
    for (const attribute of Object.values(tag.attributes)) {
      if (!isDeclaration(attribute.name)) setAttr(attrs, attribute.name, attribute.value);
    }
    this.rootOpen = true;
    this.deliver(() => {
      this.handler.streamStart(attrs);
    });
    this.inGap = true;
    this.gapIndex = index;
    this.unitStart = undefined;
  }

  private readonly onCloseTag = (): void => {
    this.sync(this.index());
    if (this.ended || this.message !== undefined) return;
    const element = this.stack.pop();
    this.uris.pop();
    if (element === undefined) {
      this.closeStream();
      return;
    }
    if (this.stack.length > 0) return;
    this.saxes.off('text');
    if (this.mode === 'framed') {
      this.message = this.framedEvent(element);
      return;
    }
    const index = this.index();
    const size = this.bytesAt(index) - (this.unitStart ?? 0);
    if (size > this.maxStanzaSize) {
      this.abort('policy-violation', `top-level element exceeds ${this.maxStanzaSize} bytes`);
    }
    this.pending = () => {
      this.handler.element(element);
    };
    this.inGap = true;
    this.gapIndex = index;
    this.unitStart = undefined;
  };

  private closeStream(): void {
    this.ended = true;
    this.pending = () => {
      this.handler.streamEnd();
    };
    // Whatever follows the end of the document is an error saxes reports; until then, cap it like a unit.
    this.unitStart = this.bytesAt(this.index());
  }

  /** RFC 7395 §3.3: `<open/>` and `<close/>` stand for the stream header and footer. */
  private framedEvent(element: Element): () => void {
    const isOpen = element.is('open', NS.FRAMING);
    if (!isOpen && !element.is('close', NS.FRAMING)) {
      return () => {
        this.handler.element(element);
      };
    }
    if (element.children.some((child) => typeof child !== 'string' || !ONLY_XML_SPACE.test(child))) {
      this.abort('bad-format', `<${element.name}/> must be empty`);
    }
    if (!isOpen) {
      return () => {
        this.handler.streamEnd();
      };
    }
    const attrs: Record<string, string> = {};
    for (const [name, value] of Object.entries(element.attrs)) {
      if (!isDeclaration(name)) setAttr(attrs, name, value);
    }
    return () => {
      this.handler.streamStart(attrs);
    };
  }

  private readonly onText = (text: string): void => {
    const parent = this.stack.at(-1);
    if (parent === undefined) return;
    const last = parent.children.length - 1;
    const previous = parent.children[last];
    if (typeof previous === 'string') parent.children[last] = previous + text;
    else parent.children.push(text);
  };

  private readonly onCData = (cdata: string): void => {
    this.sync(this.index());
    if (this.stack.length === 0) this.abort('bad-format', 'character data between top-level elements');
    this.onText(cdata);
  };

  private readonly onComment = (): void => {
    this.sync(this.index());
    this.abort('restricted-xml', 'comments are not allowed');
  };

  private readonly onProcessingInstruction = (): void => {
    this.sync(this.index());
    this.abort('restricted-xml', 'processing instructions are not allowed');
  };

  private readonly onDoctype = (): void => {
    this.sync(this.index());
    this.abort('restricted-xml', 'a DOCTYPE is not allowed');
  };

  private readonly onSaxesError = (error: Error): void => {
    // saxes reports a mismatched end tag right after the close event of the element it popped.
    if (MISMATCHED_CLOSE.test(error.message)) this.pending = undefined;
    if (this.mode === 'stream') this.sync(this.index());
    const text = error.message.replace(POSITION_PREFIX, '');
    this.abort(RESTRICTED_MESSAGES.test(text) ? 'restricted-xml' : 'not-well-formed', text, error);
  };

  /** Calls the handler; a throwing handler fails the stream, `reset()` from it stops this input. */
  private deliver(call: () => void): void {
    try {
      call();
    } catch (cause) {
      this.fail(new StreamError('internal-server-error', { cause }));
      throw ABORT;
    }
    if (this.resetRequested) throw ABORT;
  }

  private abort(condition: StreamErrorCondition, text: string, cause?: unknown): never {
    this.fail(new StreamError(condition, cause === undefined ? { text } : { text, cause }));
    throw ABORT;
  }

  private fail(error: StreamError): void {
    if (this.failed !== undefined) return;
    this.failed = error;
    this.pending = undefined;
    this.message = undefined;
    this.stack = [];
    this.uris = [];
    this.slice = '';
    this.carry = '';
    try {
      this.handler.error(error);
    } catch (thrown) {
      this.rethrow = { error: thrown };
    }
  }
}

/** Plain assignment would run the `__proto__` setter and drop an attribute of that name. */
function setAttr(attrs: Record<string, string>, name: string, value: string): void {
  if (name === '__proto__')
    Object.defineProperty(attrs, name, { value, enumerable: true, writable: true, configurable: true });
  else attrs[name] = value;
}

/** Length of `bytes` without a trailing UTF-8 sequence that is still incomplete. */
function completeSequences(bytes: Uint8Array): number {
  const length = bytes.length;
  for (let back = 1; back <= Math.min(4, length); back += 1) {
    const byte = bytes[length - back] ?? 0;
    if ((byte & 0xc0) === 0x80) continue;
    const needed = byte < 0xc0 ? 1 : byte < 0xe0 ? 2 : byte < 0xf0 ? 3 : 4;
    return needed > back ? length - back : length;
  }
  return length;
}

function decodesAsPrefix(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** The text before the first invalid UTF-8 byte. Being a valid prefix is monotonic: binary search. */
function decodeValidPrefix(bytes: Uint8Array): string {
  let low = 0;
  let high = bytes.length;
  while (low < high) {
    const middle = (low + high + 1) >>> 1;
    if (decodesAsPrefix(bytes.subarray(0, middle))) low = middle;
    else high = middle - 1;
  }
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(0, low), {
    stream: true,
  });
}

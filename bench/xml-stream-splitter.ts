/**
 * A minimal incremental splitter for an XMPP stream as the servers under test send it: it finds the
 * stream header, each complete top-level element (as its raw XML text) and the stream end. It tracks
 * quotes inside tags (so `>` in an attribute value is harmless), skips the XML declaration, comments and
 * processing instructions, and treats a second stream header (after SASL success) as a restart. It does
 * not validate: the servers are trusted peers here, and speed matters more than strictness.
 */
export type StreamEvent =
  | { readonly kind: 'open'; readonly tag: string }
  | { readonly kind: 'element'; readonly xml: string }
  | { readonly kind: 'close' };

const LT = 0x3c; // <
const GT = 0x3e; // >
const SLASH = 0x2f; // /
const QUESTION = 0x3f; // ?
const BANG = 0x21; // !
const QUOTE = 0x22; // "
const APOS = 0x27; // '

export class StreamSplitter {
  private buffer = '';
  /** Where scanning resumes in `buffer`. */
  private pos = 0;
  /** Nesting depth: 0 outside the stream, 1 inside it, more inside a top-level element. */
  private depth = 0;
  /** Start of the top-level element being read, or -1. */
  private elementStart = -1;

  /** Feeds the next chunk; returns the events it completed, in order. */
  push(chunk: string): StreamEvent[] {
    const events: StreamEvent[] = [];
    this.buffer += chunk;
    const buffer = this.buffer;
    for (;;) {
      const lt = buffer.indexOf('<', this.pos);
      if (lt === -1) {
        this.pos = buffer.length;
        break;
      }
      const gt = tagEnd(buffer, lt + 1);
      if (gt === -1) {
        this.pos = lt;
        break;
      }
      this.pos = gt + 1;
      const second = buffer.charCodeAt(lt + 1);
      if (second === QUESTION || second === BANG) continue;
      if (second === SLASH) {
        this.depth -= 1;
        if (this.depth === 1 && this.elementStart >= 0) {
          events.push({ kind: 'element', xml: buffer.slice(this.elementStart, gt + 1) });
          this.elementStart = -1;
        } else if (this.depth <= 0) {
          this.depth = 0;
          events.push({ kind: 'close' });
        }
        continue;
      }
      const selfClosing = buffer.charCodeAt(gt - 1) === SLASH;
      if (this.depth === 0 || (this.depth === 1 && isStreamHeader(buffer, lt))) {
        if (!selfClosing) {
          this.depth = 1;
          events.push({ kind: 'open', tag: buffer.slice(lt, gt + 1) });
        }
        continue;
      }
      if (selfClosing) {
        if (this.depth === 1) events.push({ kind: 'element', xml: buffer.slice(lt, gt + 1) });
        continue;
      }
      if (this.depth === 1) this.elementStart = lt;
      this.depth += 1;
    }
    const keepFrom = this.elementStart >= 0 ? this.elementStart : this.pos;
    if (keepFrom > 0) {
      this.buffer = buffer.slice(keepFrom);
      this.pos -= keepFrom;
      if (this.elementStart >= 0) this.elementStart = 0;
    }
    return events;
  }

  /** Forgets everything (a new connection, or a stream restart the caller initiated). */
  reset(): void {
    this.buffer = '';
    this.pos = 0;
    this.depth = 0;
    this.elementStart = -1;
  }
}

/** Index of the `>` closing the tag whose name starts at `from`, ignoring quoted text; -1 if incomplete. */
function tagEnd(buffer: string, from: number): number {
  let quote = 0;
  for (let i = from; i < buffer.length; i += 1) {
    const c = buffer.charCodeAt(i);
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === QUOTE || c === APOS) {
      quote = c;
    } else if (c === GT) {
      return i;
    } else if (c === LT) {
      // A stray '<' inside a tag cannot happen in well-formed XML; resynchronise on it.
      return i - 1;
    }
  }
  return -1;
}

function isStreamHeader(buffer: string, lt: number): boolean {
  return buffer.startsWith('<stream:stream', lt) || buffer.startsWith('<stream ', lt);
}

/** The element name of an element's XML text (prefix included, e.g. `stream:features`). */
export function elementName(xml: string): string {
  let end = 1;
  while (end < xml.length) {
    const c = xml.charCodeAt(end);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === SLASH || c === GT) break;
    end += 1;
  }
  return xml.slice(1, end);
}

/** The name without its prefix: `stream:features` → `features`. */
export function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(colon + 1);
}

/** An attribute of the element's opening tag (entities decoded), or undefined. */
export function attribute(xml: string, name: string): string | undefined {
  const openEnd = tagEnd(xml, 1);
  const tag = openEnd === -1 ? xml : xml.slice(0, openEnd + 1);
  const pattern = new RegExp(`\\s${name.replace(/[.:-]/g, '\\$&')}\\s*=\\s*("([^"]*)"|'([^']*)')`);
  const match = pattern.exec(tag);
  if (match === null) return undefined;
  return unescapeXml(match[2] ?? match[3] ?? '');
}

/** Text between the first `<name …>` and its `</name>` inside `xml` (no nesting), entities decoded. */
export function childText(xml: string, name: string): string | undefined {
  const open = new RegExp(`<${name}(\\s[^>]*)?>`).exec(xml);
  if (open === null) return undefined;
  const start = open.index + open[0].length;
  const end = xml.indexOf(`</${name}>`, start);
  if (end === -1) return undefined;
  return unescapeXml(xml.slice(start, end));
}

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export function unescapeXml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (entity, body: string) => {
    switch (body) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(
          body.startsWith('#x') ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10),
        );
    }
  });
}

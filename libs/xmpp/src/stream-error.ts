import { NS } from './namespaces.js';
import { xml } from './xml.js';
import type { Element } from './xml.js';

/** RFC 6120 §4.9.3.1-§4.9.3.25, in the RFC's order. */
export const STREAM_ERROR_CONDITIONS = [
  'bad-format',
  'bad-namespace-prefix',
  'conflict',
  'connection-timeout',
  'host-gone',
  'host-unknown',
  'improper-addressing',
  'internal-server-error',
  'invalid-from',
  'invalid-namespace',
  'invalid-xml',
  'not-authorized',
  'not-well-formed',
  'policy-violation',
  'remote-connection-failed',
  'reset',
  'resource-constraint',
  'restricted-xml',
  'see-other-host',
  'system-shutdown',
  'undefined-condition',
  'unsupported-encoding',
  'unsupported-feature',
  'unsupported-stanza-type',
  'unsupported-version',
] as const;

export type StreamErrorCondition = (typeof STREAM_ERROR_CONDITIONS)[number];

const CONDITIONS: ReadonlySet<string> = new Set(STREAM_ERROR_CONDITIONS);

export function isStreamErrorCondition(value: string): value is StreamErrorCondition {
  return CONDITIONS.has(value);
}

export interface StreamErrorOptions {
  /** Descriptive text for the `<text/>` child (RFC 6120 §4.9.2); it goes on the wire. */
  readonly text?: string;
  /** `xml:lang` of `text`. */
  readonly lang?: string;
  /** Character data of the condition element; only `see-other-host` carries one (§4.9.3.19). */
  readonly data?: string;
  /** Application-specific condition element, qualified by its own namespace (§4.9.4). */
  readonly application?: Element;
  readonly cause?: unknown;
}

/**
 * A stream-level error (RFC 6120 §4.9): unrecoverable, the stream is closed after it is sent. `condition`
 * goes on the wire as is; `message` is for logs only.
 */
export class StreamError extends Error {
  override readonly name = 'StreamError';
  readonly code = 'HF_XMPP_STREAM_ERROR';
  readonly text: string | undefined;
  readonly lang: string | undefined;
  readonly data: string | undefined;
  readonly application: Element | undefined;

  constructor(
    readonly condition: StreamErrorCondition,
    options: StreamErrorOptions = {},
  ) {
    super(
      options.text === undefined ? condition : `${condition}: ${options.text}`,
      'cause' in options ? { cause: options.cause } : undefined,
    );
    this.text = options.text;
    this.lang = options.lang;
    this.data = options.data;
    this.application = options.application;
  }
}

/**
 * RFC 6120 §4.9.2:
 * `<stream:error><condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text .../></stream:error>`.
 * The element declares the `stream` prefix itself, so it is complete on its own: redundant but legal
 * inside a TCP stream, required as a WebSocket message (RFC 7395 §3.3).
 */
export function streamErrorElement(error: StreamError): Element {
  return xml(
    'stream:error',
    { 'xmlns:stream': NS.STREAM },
    xml(error.condition, { xmlns: NS.STREAM_ERROR }, error.data),
    error.text !== undefined && xml('text', { xmlns: NS.STREAM_ERROR, 'xml:lang': error.lang }, error.text),
    error.application,
  );
}

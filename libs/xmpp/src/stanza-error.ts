import { NS } from './namespaces.js';
import { xml } from './xml.js';
import type { Element } from './xml.js';

/** RFC 6120 §8.3.2: the `type` attribute of `<error/>`. */
export const STANZA_ERROR_TYPES = ['auth', 'cancel', 'continue', 'modify', 'wait'] as const;

export type StanzaErrorType = (typeof STANZA_ERROR_TYPES)[number];

/** RFC 6120 §8.3.3.1-§8.3.3.22, in the RFC's order. */
export const STANZA_ERROR_CONDITIONS = [
  'bad-request',
  'conflict',
  'feature-not-implemented',
  'forbidden',
  'gone',
  'internal-server-error',
  'item-not-found',
  'jid-malformed',
  'not-acceptable',
  'not-allowed',
  'not-authorized',
  'policy-violation',
  'recipient-unavailable',
  'redirect',
  'registration-required',
  'remote-server-not-found',
  'remote-server-timeout',
  'resource-constraint',
  'service-unavailable',
  'subscription-required',
  'undefined-condition',
  'unexpected-request',
] as const;

export type StanzaErrorCondition = (typeof STANZA_ERROR_CONDITIONS)[number];

const TYPES: ReadonlySet<string> = new Set(STANZA_ERROR_TYPES);
const CONDITIONS: ReadonlySet<string> = new Set(STANZA_ERROR_CONDITIONS);

export function isStanzaErrorType(value: string): value is StanzaErrorType {
  return TYPES.has(value);
}

export function isStanzaErrorCondition(value: string): value is StanzaErrorCondition {
  return CONDITIONS.has(value);
}

/** Everything an `<error/>` child carries (RFC 6120 §8.3.2). A `StanzaError` is one. */
export interface StanzaErrorInit {
  readonly type: StanzaErrorType;
  readonly condition: StanzaErrorCondition;
  /** Descriptive text for the `<text/>` child; it goes on the wire. */
  readonly text?: string | undefined;
  /** `xml:lang` of `text`. */
  readonly lang?: string | undefined;
  /** The entity that generated the error (§8.3.2 `by`), e.g. the server's domain or a MUC room. */
  readonly by?: string | undefined;
  /** Character data of the condition element: the alternate address of `gone` and `redirect` (§8.3.3.5, §8.3.3.14). */
  readonly data?: string | undefined;
  /** Application-specific condition element, qualified by its own namespace (§8.3.2). */
  readonly application?: Element | undefined;
}

export interface StanzaErrorOptions {
  readonly text?: string;
  readonly lang?: string;
  readonly by?: string;
  readonly data?: string;
  readonly application?: Element;
  readonly cause?: unknown;
}

/** A stanza-level error (RFC 6120 §8.3): recoverable, answered with an error reply, the stream stays up. */
export class StanzaError extends Error implements StanzaErrorInit {
  override readonly name = 'StanzaError';
  readonly code = 'HF_XMPP_STANZA_ERROR';
  readonly text: string | undefined;
  readonly lang: string | undefined;
  readonly by: string | undefined;
  readonly data: string | undefined;
  readonly application: Element | undefined;

  constructor(
    readonly type: StanzaErrorType,
    readonly condition: StanzaErrorCondition,
    options: StanzaErrorOptions = {},
  ) {
    super(
      options.text === undefined ? `${type}/${condition}` : `${type}/${condition}: ${options.text}`,
      'cause' in options ? { cause: options.cause } : undefined,
    );
    this.text = options.text;
    this.lang = options.lang;
    this.by = options.by;
    this.data = options.data;
    this.application = options.application;
  }
}

/**
 * RFC 6120 §8.3.2: `<error type by><condition xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text/></error>`.
 * The `<error/>` itself is in the content namespace, inherited from its stanza.
 */
export function stanzaErrorElement(error: StanzaErrorInit): Element {
  return xml(
    'error',
    { type: error.type, by: error.by },
    xml(error.condition, { xmlns: NS.STANZA_ERROR }, error.data),
    error.text !== undefined && xml('text', { xmlns: NS.STANZA_ERROR, 'xml:lang': error.lang }, error.text),
    error.application,
  );
}

const STANZAS: ReadonlySet<string> = new Set(['message', 'presence', 'iq']);

/**
 * The error reply to `stanza` (RFC 6120 §8.3.1): same name, `id` and namespace, `to` and `from` swapped,
 * `type='error'`, and only the `<error/>` child: the original payload is not echoed back (the RFC allows
 * it, we never do, so a reply is never larger than its cause and never reflects content to a third party).
 *
 * `undefined` when no error reply may be sent: the element is not a stanza (nonzas have no stanza errors),
 * it is itself an error (§8.3.1: never answer an error with an error, it could loop), or it is an IQ
 * result (§8.2.3: results and errors are not answered).
 */
export function errorReply(stanza: Element, error: StanzaErrorInit): Element | undefined {
  const name = stanza.getName();
  const { type } = stanza.attrs;
  if (!STANZAS.has(name) || type === 'error' || (name === 'iq' && type === 'result')) return undefined;
  return xml(
    name,
    {
      xmlns: stanza.getNS(),
      from: stanza.attrs.to,
      to: stanza.attrs.from,
      id: stanza.attrs.id,
      type: 'error',
    },
    stanzaErrorElement(error),
  );
}

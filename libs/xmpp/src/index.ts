export { withDelay } from './delay.js';
export { Jid, JidError, canonicalJid, parseJid } from './jid.js';
export type { JidErrorCode } from './jid.js';
export { NS } from './namespaces.js';
export type { Namespace } from './namespaces.js';
export {
  STREAM_CLOSE,
  XmlSerializeError,
  closeElement,
  escapeAttribute,
  escapeText,
  openElement,
  serialize,
  streamHeader,
} from './serialize.js';
export type { StreamHeaderOptions, XmlSerializeErrorCode } from './serialize.js';
export {
  STANZA_ERROR_CONDITIONS,
  STANZA_ERROR_TYPES,
  StanzaError,
  errorReply,
  isStanzaErrorCondition,
  isStanzaErrorType,
  stanzaErrorElement,
} from './stanza-error.js';
export type {
  StanzaErrorCondition,
  StanzaErrorInit,
  StanzaErrorOptions,
  StanzaErrorType,
} from './stanza-error.js';
export {
  STREAM_ERROR_CONDITIONS,
  StreamError,
  isStreamErrorCondition,
  streamErrorElement,
} from './stream-error.js';
export type { StreamErrorCondition, StreamErrorOptions } from './stream-error.js';
export {
  IQ_TYPES,
  MESSAGE_TYPES,
  PRESENCE_TYPES,
  isIqType,
  isMessageType,
  isPresenceType,
} from './stanza-types.js';
export type { IqType, MessageType, PresenceType } from './stanza-types.js';
export { STREAM_PARSER_DEFAULTS, StreamParser } from './stream-parser.js';
export type { StreamParserHandler, StreamParserMode, StreamParserOptions } from './stream-parser.js';
export { Element, cloneElement, xml } from './xml.js';
export type { ElementConstructor, XmlAttrs, XmlBuilderAttrs, XmlChild, XmlNode } from './xml.js';

/** The `type` values of the three stanzas: RFC 6121 §5.2.2 (message), §4.7.1 (presence), RFC 6120 §8.2.3 (iq). */
export const MESSAGE_TYPES = ['chat', 'error', 'groupchat', 'headline', 'normal'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** Presence `type` values on the wire; `available` is the absence of a type. */
export const PRESENCE_TYPES = [
  'error',
  'probe',
  'subscribe',
  'subscribed',
  'unavailable',
  'unsubscribe',
  'unsubscribed',
] as const;
export type PresenceType = (typeof PRESENCE_TYPES)[number];

export const IQ_TYPES = ['error', 'get', 'result', 'set'] as const;
export type IqType = (typeof IQ_TYPES)[number];

const messageTypes: ReadonlySet<string> = new Set(MESSAGE_TYPES);
const presenceTypes: ReadonlySet<string> = new Set(PRESENCE_TYPES);
const iqTypes: ReadonlySet<string> = new Set(IQ_TYPES);

export const isMessageType = (value: string): value is MessageType => messageTypes.has(value);
export const isPresenceType = (value: string): value is PresenceType => presenceTypes.has(value);
export const isIqType = (value: string): value is IqType => iqTypes.has(value);

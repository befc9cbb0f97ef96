export {
  ConnectionBound,
  ConnectionClosed,
  ConnectionOpened,
  EVENT_DEFINITIONS,
  GatewayDeliver,
  GatewayKick,
  S2sClosed,
  SmAckDelayed,
  SmAcked,
  SmEnabled,
  SmHibernationDeadlineSet,
  SmHibernationEnded,
  SmHibernationStanzaQueued,
  SmHibernationStarted,
  SmMamQueried,
  SmResumeClaim,
  SmResumeFailed,
  SmSessionTerminated,
  SmSetHibernationDeadline,
  SmTerminate,
  SmUnackedDispose,
  SmUnackedOutcome,
  StanzaReceived,
  StanzaSent,
  sessionFilter,
  sessionLaneFilter,
  sessionQueueSubjects,
  sessionPartitionFilter,
  sessionTypeFilter,
  smState,
} from './catalog.js';
export type { SessionLane, SmState } from './catalog.js';
export {
  DecodeError,
  decodeEvent,
  decodeReply,
  decodeRequest,
  encodeEvent,
  encodeReply,
  encodeRequest,
} from './codec.js';
export type { AnyEvent, DataOf, DecodeErrorCode, Event, EventMetadata, EventOf, EventType } from './codec.js';
export { commandSubject, defineCommand, defineEvent } from './definition.js';
export type { CommandDefinition, EventDefinition, ReplyOf, RequestOf, Upcaster } from './definition.js';
export { SESSION_PARTITIONS, partitionOf } from './partition.js';
export { STREAMS } from './streams.js';
export type { StreamDeclaration, StreamKey } from './streams.js';
export { SubjectTokenError, decodeToken, encodeToken } from './subject-token.js';

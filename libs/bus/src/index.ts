export { Bus } from './bus.js';
export type {
  BusOptions,
  OutgoingEvent,
  PublishOptions,
  Published,
  RequestOptions,
  ServeOptions,
  Service,
} from './bus.js';
export type { ConsumeOptions, Consumption, Delivery } from './consume.js';
export type { DirectBatchRequest, DirectMessage } from './direct-get.js';
export type { StoredMessage } from './last-message.js';
export { LazyBucket } from './lazy-bucket.js';
export {
  BusError,
  BusTimeoutError,
  ConcurrencyConflictError,
  NoRespondersError,
  RemoteError,
  isWrongLastSequence,
} from './errors.js';
export type { BusErrorCode } from './errors.js';
export type { BusLogger } from './logger.js';

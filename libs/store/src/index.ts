export { defineCollection } from './collection.js';
export type { CollectionDefinition, DocumentOf, IndexDeclaration } from './collection.js';
export {
  COLLECTIONS,
  MamArchive,
  OfflineMessages,
  RosterItems,
  Settings,
  SmHRecords,
  SmQueue,
  SmSessions,
  Users,
} from './collections.js';
export type {
  MamArchiveDocument,
  OfflineMessageDocument,
  RosterDocument,
  SettingDocument,
  SmHRecordDocument,
  SmQueueDocument,
  SmSessionDocument,
  UserDocument,
} from './collections.js';
export {
  DuplicateKeyError,
  StoreError,
  StoreUnavailableError,
  isTransient,
  duplicateKeyCount,
  toStoreError,
} from './errors.js';
export type { StoreErrorCode } from './errors.js';
export { withRetry } from './retry.js';
export type { RetryLogger, RetryOptions } from './retry.js';
export { Store } from './store.js';
export type { StoreOptions } from './store.js';

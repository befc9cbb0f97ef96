export { defineCollection } from './collection.js';
export type { CollectionDefinition, DocumentOf, IndexDeclaration } from './collection.js';
export { COLLECTIONS, OfflineMessages, Users } from './collections.js';
export type { OfflineMessageDocument, UserDocument } from './collections.js';
export {
  DuplicateKeyError,
  StoreError,
  StoreUnavailableError,
  VersionConflictError,
  isTransient,
  toStoreError,
} from './errors.js';
export type { StoreErrorCode } from './errors.js';
export { withRetry } from './retry.js';
export type { RetryLogger, RetryOptions } from './retry.js';
export { Store } from './store.js';
export type { StoreOptions, Versioned } from './store.js';

export { ROSTER_LINEAGE, rosterDocumentId } from './collection.js';
export { RosterError, RosterUpdateConflictError } from './errors.js';
export type { RosterErrorCode } from './errors.js';
export {
  SUBSCRIPTION_STATES,
  clientView,
  hasFrom,
  hasTo,
  newRosterItem,
  normalizeItem,
  subscriptionState,
  withState,
} from './model.js';
export type {
  ItemChange,
  RosterEffect,
  RosterItem,
  RosterPushItem,
  RosterRemoval,
  Subscription,
  SubscriptionState,
} from './model.js';
export { RosterRepository } from './repository.js';
export type { RosterRepositoryLogger, RosterRepositoryOptions } from './repository.js';
export {
  DEFAULT_ROSTER_LIMITS,
  decideRosterSet,
  parseRosterQuery,
  rosterGetResult,
  rosterSetResult,
} from './roster-set.js';
export type {
  RosterLimits,
  RosterQuery,
  RosterSetContext,
  RosterSetDecision,
  RosterSetQuery,
} from './roster-set.js';
export {
  pendingRequestPresence,
  rosterItemElement,
  rosterPush,
  rosterQuery,
  statusText,
  subscriptionPresence,
  subscriptionTypeOf,
} from './stanzas.js';
export type { SubscriptionType } from './stanzas.js';
export { decideSubscription, pendingSubscriptionRequests, transition } from './subscription.js';
export type { SubscriptionCommand, SubscriptionDecision, SubscriptionOptions } from './subscription.js';

export {
  ackDelayDueAt,
  afterAck,
  afterClientRequest,
  afterFlush,
  initialAckPolicyState,
  onCsiActive,
  onCsiInactive,
  onReadTimeout,
  onResumed,
  onTimer,
  readTimeoutDueAt,
  unacked,
} from './ack-policy.js';
export type {
  AckPolicyConfig,
  AckPolicyState,
  AckPolicyStep,
  AckStep,
  ReadTimeoutStep,
  TimerStep,
} from './ack-policy.js';
export {
  COUNTER_MODULUS,
  MAX_COUNTER,
  add,
  increment,
  isCounter,
  parseH,
  subtract,
  validateAck,
} from './counter.js';
export type { AckValidation, AckViolation, AckWindow } from './counter.js';
export {
  ackElement,
  enabledElement,
  failedElement,
  handledCountTooHighError,
  handledCountTooLowError,
  requestElement,
  resumedElement,
  stampDelay,
} from './elements.js';
export type { EnabledInit, FailedInit, HandledCountInit } from './elements.js';
export { decideEnable } from './enable.js';
export type { EnableDecision, EnableOptions } from './enable.js';
export { SmError } from './errors.js';
export type { SmErrorCode } from './errors.js';
export { checkResumeRequest, decideResume } from './resume.js';
export type {
  ResumeClaim,
  ResumeContext,
  ResumeFailed,
  ResumeRequest,
  ResumeSnapshot,
  SmSessionState,
  TerminatedKind,
} from './resume.js';
export { SM_FAILED_CONDITIONS, isStreamAuthenticated } from './stream.js';
export type { SmAttrs, SmFailed, SmFailedCondition, SmStreamSnapshot } from './stream.js';
export { decideOutcomes, hasOwnStanzaId } from './outcome.js';
export type {
  Outcome,
  OutcomeAction,
  OutcomeInput,
  OutcomeRule,
  RoutedOutcome,
  SettledOutcome,
  UnackedMessagePolicy,
} from './outcome.js';

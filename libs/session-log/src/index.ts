export { appendToQueue } from './append.js';
export type { AppendRequest, AppendResult } from './append.js';
export { bareOf, claimResume, forgetRecord, hashSecret, resumeSnapshotOf } from './claim.js';
export type { ClaimOptions } from './claim.js';
export { SessionLog, sessionStateOf, stateWithout } from './session-log.js';
export type { QueueEntry, SessionSnapshot, StateRecord } from './session-log.js';
export {
  DEFAULT_GATEWAYS_BUCKET,
  forgetGateway,
  gatewayKey,
  openGatewaysBucket,
  startHeartbeat,
  watchGateways,
} from './gateway-liveness.js';
export type {
  DeadGateway,
  GatewayWatch,
  Heartbeat,
  HeartbeatOptions,
  HeartbeatRecord,
  LivenessBucketOptions,
  WatchOptions,
} from './gateway-liveness.js';

export { decodeSaslPayload, encodeSaslPayload } from './base64.js';
export {
  DEFAULT_ITERATIONS,
  MIN_ITERATIONS,
  SALT_LENGTH,
  SCRAM_MECHANISMS,
  deriveScramCredential,
  fakeScramCredential,
  newUserCredentials,
} from './credentials.js';
export type { ScramCredential, ScramMechanism, UserScramCredentials } from './credentials.js';
export { CredentialError, SASL_CONDITIONS, SaslFailure, SaslprepError } from './errors.js';
export type { CredentialErrorCode, SaslCondition, SaslprepErrorCode } from './errors.js';
export { offeredMechanisms, selectMechanism } from './mechanisms.js';
export type { MechanismPolicy, SaslMechanism } from './mechanisms.js';
export { parsePlain, verifyPassword, verifyPlain } from './plain.js';
export type { PlainAccount, PlainMessage } from './plain.js';
export { saslprep } from './saslprep.js';
export type { SaslprepOptions } from './saslprep.js';
export { newServerNonce, startScram } from './scram-server.js';
export type { ScramAccount, ScramChallenge, ScramStart, ScramSuccess } from './scram-server.js';

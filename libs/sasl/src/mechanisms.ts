import { SCRAM_MECHANISMS } from './credentials.js';
import type { ScramMechanism } from './credentials.js';
import { SaslFailure } from './errors.js';

export type SaslMechanism = ScramMechanism | 'PLAIN';

export interface MechanismPolicy {
  /** The stream is TLS-protected. */
  readonly tls: boolean;
  /** Offer PLAIN on a stream without TLS (tests, loopback). Off in any real deployment. */
  readonly allowPlainWithoutTls: boolean;
}

function plainAllowed(policy: MechanismPolicy): boolean {
  return policy.tls || policy.allowPlainWithoutTls;
}

/**
 * The `<mechanisms/>` to advertise (RFC 6120 §6.4.1), strongest first. SCRAM is always offered; PLAIN,
 * which sends the password itself, only over TLS unless explicitly allowed.
 */
export function offeredMechanisms(policy: MechanismPolicy): readonly SaslMechanism[] {
  return plainAllowed(policy) ? [...SCRAM_MECHANISMS, 'PLAIN'] : [...SCRAM_MECHANISMS];
}

/**
 * Checks the mechanism named in `<auth mechanism='…'/>`: `encryption-required` for PLAIN without TLS
 * (RFC 6120 §6.5.5), `invalid-mechanism` for anything else not offered (§6.5.7), including the -PLUS
 * variants. Names are matched exactly: RFC 4422 §3.1 makes them upper case.
 */
export function selectMechanism(name: string, policy: MechanismPolicy): SaslMechanism {
  if (name === 'PLAIN' && !plainAllowed(policy)) {
    throw new SaslFailure('encryption-required', 'PLAIN is only available over TLS');
  }
  const mechanism = offeredMechanisms(policy).find((offered) => offered === name);
  if (mechanism === undefined) throw new SaslFailure('invalid-mechanism');
  return mechanism;
}

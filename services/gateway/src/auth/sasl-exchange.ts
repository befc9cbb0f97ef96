import { randomBytes } from 'node:crypto';

import {
  DEFAULT_ITERATIONS,
  SaslFailure,
  fakeScramCredential,
  newServerNonce,
  parsePlain,
  selectMechanism,
  startScram,
  verifyPlain,
  type MechanismPolicy,
  type ScramChallenge,
  type ScramCredential,
  type ScramMechanism,
} from '@holdfast/sasl';
import { JidError } from '@holdfast/xmpp';

import type { Accounts } from './accounts.js';

/** What the server answers to one client SASL message (RFC 6120 §6.4). */
export type SaslStep =
  | { readonly kind: 'challenge'; readonly data: Buffer }
  | { readonly kind: 'success'; readonly identity: string; readonly data?: Buffer };

export interface SaslExchangeDeps {
  readonly accounts: Accounts;
  readonly policy: MechanismPolicy;
  /**
   * Key for the fake credentials of unknown users (same shape and cost as real ones, so a SCRAM exchange
   * does not reveal whether an account exists).
   */
  readonly fakeSecret: Uint8Array;
}

/**
 * One SASL negotiation on one stream: `begin` with the `<auth/>` element's mechanism and initial
 * response, `respond` with each `<response/>`. Failures are thrown as SaslFailure (RFC 6120 §6.5).
 */
export class SaslExchange {
  private pending: ((data: Buffer | undefined) => Promise<SaslStep>) | undefined;
  /** The account the client tried (bare JID), once known: the throttle key. */
  account: string | undefined;

  constructor(private readonly deps: SaslExchangeDeps) {}

  async begin(mechanismName: string, initial: Buffer | undefined): Promise<SaslStep> {
    const mechanism = selectMechanism(mechanismName, this.deps.policy);
    if (mechanism === 'PLAIN') {
      if (initial === undefined) return this.await((data) => this.plain(data));
      return this.plain(initial);
    }
    // RFC 6120 §6.4.2: no initial response → an empty challenge asks for it.
    if (initial === undefined) return this.await((data) => this.scramFirst(mechanism, data));
    return this.scramFirst(mechanism, initial);
  }

  async respond(data: Buffer | undefined): Promise<SaslStep> {
    const next = this.pending;
    if (next === undefined) throw new SaslFailure('malformed-request', 'no exchange in progress');
    this.pending = undefined;
    return next(data);
  }

  private await(next: (data: Buffer | undefined) => Promise<SaslStep>): SaslStep {
    this.pending = next;
    return { kind: 'challenge', data: Buffer.alloc(0) };
  }

  private async lookup(
    username: string,
    mechanism: ScramMechanism,
  ): Promise<{ identity: string; credential: ScramCredential }> {
    let identity: string;
    try {
      identity = this.deps.accounts.bareJid(username);
    } catch (error) {
      if (error instanceof JidError) throw new SaslFailure('not-authorized');
      throw error;
    }
    this.account = identity;
    const stored = await this.deps.accounts.credentials(identity);
    const credential =
      stored?.[mechanism] ??
      fakeScramCredential(mechanism, {
        secret: this.deps.fakeSecret,
        username: identity,
        iterations: DEFAULT_ITERATIONS[mechanism],
      });
    return { identity, credential };
  }

  private async scramFirst(mechanism: ScramMechanism, data: Buffer | undefined): Promise<SaslStep> {
    if (data === undefined || data.length === 0)
      throw new SaslFailure('malformed-request', 'client-first-message missing');
    const start = startScram(mechanism, data);
    const account = await this.lookup(start.username, mechanism);
    const challenge: ScramChallenge = start.challenge(account, newServerNonce(randomBytes));
    this.pending = (final) => Promise.resolve(this.scramFinal(challenge, final));
    return { kind: 'challenge', data: challenge.serverFirst };
  }

  private scramFinal(challenge: ScramChallenge, data: Buffer | undefined): SaslStep {
    if (data === undefined) throw new SaslFailure('malformed-request', 'client-final-message missing');
    const success = challenge.finish(data);
    return { kind: 'success', identity: success.identity, data: success.serverFinal };
  }

  private async plain(data: Buffer | undefined): Promise<SaslStep> {
    if (data === undefined) throw new SaslFailure('malformed-request', 'PLAIN needs a message');
    const message = parsePlain(data);
    const { identity, credential } = await this.lookup(message.authcid, 'SCRAM-SHA-256');
    await verifyPlain(message, { identity, mechanism: 'SCRAM-SHA-256', credential });
    return { kind: 'success', identity };
  }
}

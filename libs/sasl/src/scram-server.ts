/**
 * Server side of one SCRAM exchange (RFC 5802 §5, §7; SCRAM-SHA-256 is RFC 7677), as a pure state
 * machine: each step returns a new immutable state, does no I/O and takes its nonce from the caller.
 *
 *   const start = startScram('SCRAM-SHA-256', clientFirst);     // parse, learn the username
 *   // caller: look the username up; unknown → fakeScramCredential(…) instead, and carry on as usual
 *   const challenge = start.challenge({ identity, credential }, newServerNonce(randomBytes));
 *   // send challenge.serverFirst, receive clientFinal
 *   const success = challenge.finish(clientFinal);               // or throws SaslFailure
 *   // send success.serverFinal in <success/>
 *
 * Channel binding (the -PLUS variants) is not offered, so the GS2 header must be `n` or `y` (RFC 5802
 * §6). The credential lives in closures rather than on the state objects, so logging a state never
 * writes StoredKey or ServerKey out.
 */
import { timingSafeEqual } from 'node:crypto';

import { decodeBase64 } from './base64.js';
import { CredentialError, SaslFailure } from './errors.js';
import { decodeCredential, digest, hashSize, hmac } from './credentials.js';
import type { DecodedCredential, ScramCredential, ScramMechanism } from './credentials.js';

export interface ScramAccount {
  /** The bare JID the username resolved to. An `a=` authzid is accepted only if it is exactly this. */
  readonly identity: string;
  readonly credential: ScramCredential;
}

export interface ScramStart {
  readonly mechanism: ScramMechanism;
  /**
   * The `n=` username with `=2C` and `=3D` decoded, otherwise as sent: normalise it as a JID localpart
   * (RFC 7622) before looking it up.
   */
  readonly username: string;
  /** The GS2 `a=` authorization identity, if any; checked only once the proof is verified. */
  readonly authzid: string | undefined;
  /** Produces the server-first-message for the account found (or faked) for `username`. */
  readonly challenge: (account: ScramAccount, serverNonce: string) => ScramChallenge;
}

export interface ScramChallenge {
  /** `r=<client nonce><server nonce>,s=<salt>,i=<iterations>`, for `<challenge/>`. */
  readonly serverFirst: Buffer;
  /** Verifies the client-final-message; throws `SaslFailure`. */
  readonly finish: (clientFinal: Uint8Array) => ScramSuccess;
}

export interface ScramSuccess {
  /** The authenticated (and authorized) bare JID. */
  readonly identity: string;
  /** `v=<ServerSignature>`, the additional data of `<success/>`. */
  readonly serverFinal: Buffer;
}

/** RFC 5802 §7 `printable`: the nonce alphabet. */
const PRINTABLE = /^[\x21-\x2B\x2D-\x7E]+$/;
/** RFC 5802 §7 `attr-val` (NUL is refused for the whole message beforehand). */
const ATTRIBUTE = /^[A-Za-z]=[^,]+$/;
/** RFC 5802 §7 `saslname`; ABNF strings are case-insensitive (RFC 5234 §2.3), hence `=2c` too. */
const SASLNAME = /^(?:[^=,]|=2C|=3D)+$/i;
const SERVER_NONCE_BYTES = 18;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function malformed(text: string): SaslFailure {
  return new SaslFailure('malformed-request', text);
}

function decodeMessage(bytes: Uint8Array, what: string): string {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (cause) {
    throw new SaslFailure('malformed-request', `${what} is not UTF-8`, { cause });
  }
  if (text.includes('\0')) throw malformed(`${what} contains NUL`);
  return text;
}

function decodeSaslname(value: string, what: string): string {
  if (!SASLNAME.test(value)) throw malformed(`${what} is empty or wrongly escaped`);
  return value.replace(/=(2C|3D)/gi, (_escape, hex: string) => (hex.toUpperCase() === '2C' ? ',' : '='));
}

/** 18 random bytes as base64: 24 printable characters. */
export function newServerNonce(random: (size: number) => Uint8Array): string {
  const bytes = random(SERVER_NONCE_BYTES);
  if (bytes.length !== SERVER_NONCE_BYTES) {
    throw new CredentialError('HF_SASL_PARAMETER_INVALID', `random source returned ${bytes.length} bytes`);
  }
  return Buffer.from(bytes).toString('base64');
}

/** Parses the client-first-message (the `<auth/>` initial response, or the first `<response/>`). */
export function startScram(mechanism: ScramMechanism, clientFirst: Uint8Array): ScramStart {
  const text = decodeMessage(clientFirst, 'client-first-message');

  const flagEnd = text.indexOf(',');
  const headerEnd = flagEnd < 0 ? -1 : text.indexOf(',', flagEnd + 1);
  if (headerEnd < 0) throw malformed('missing GS2 header');
  const flag = text.slice(0, flagEnd);
  if (flag.startsWith('p=')) {
    throw malformed(`channel binding requested, but ${mechanism}-PLUS is not offered`);
  }
  // `y`: the client could bind but thinks we cannot, which is true while no -PLUS mechanism is offered.
  // Once one is, `y` must fail: it would mean an attacker stripped -PLUS from the list (RFC 5802 §6).
  if (flag !== 'n' && flag !== 'y') throw malformed('invalid GS2 channel binding flag');
  const authzidField = text.slice(flagEnd + 1, headerEnd);
  let authzid: string | undefined;
  if (authzidField !== '') {
    if (!authzidField.startsWith('a=')) throw malformed('invalid GS2 authzid');
    authzid = decodeSaslname(authzidField.slice(2), 'authzid');
  }
  const gs2Header = text.slice(0, headerEnd + 1);

  const bare = text.slice(headerEnd + 1);
  const [user, nonce, ...extensions] = bare.split(',');
  if (user?.startsWith('m=') === true) throw malformed('mandatory extension (m=) is not supported');
  if (user?.startsWith('n=') !== true) throw malformed('missing username (n=)');
  const username = decodeSaslname(user.slice(2), 'username');
  if (nonce?.startsWith('r=') !== true || !PRINTABLE.test(nonce.slice(2))) {
    throw malformed('missing or invalid nonce (r=)');
  }
  const clientNonce = nonce.slice(2);
  if (!extensions.every((extension) => ATTRIBUTE.test(extension))) throw malformed('malformed attribute');

  return {
    mechanism,
    username,
    authzid,
    challenge: (account, serverNonce) => {
      if (!PRINTABLE.test(serverNonce)) {
        throw new CredentialError('HF_SASL_PARAMETER_INVALID', 'server nonce must be printable ASCII');
      }
      let credential: DecodedCredential;
      try {
        credential = decodeCredential(mechanism, account.credential);
      } catch (cause) {
        throw new SaslFailure('temporary-auth-failure', undefined, { cause });
      }
      const combinedNonce = clientNonce + serverNonce;
      const serverFirst = `r=${combinedNonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;
      const exchange: Exchange = {
        mechanism,
        gs2Header,
        bare,
        authzid,
        combinedNonce,
        serverFirst,
        credential,
        identity: account.identity,
      };
      return {
        serverFirst: Buffer.from(serverFirst, 'utf8'),
        finish: (clientFinal) => finishScram(exchange, clientFinal),
      };
    },
  };
}

/** What the last step needs from the first two; kept in a closure, never on a returned state. */
interface Exchange {
  readonly mechanism: ScramMechanism;
  readonly gs2Header: string;
  readonly bare: string;
  readonly authzid: string | undefined;
  readonly combinedNonce: string;
  readonly serverFirst: string;
  readonly credential: DecodedCredential;
  readonly identity: string;
}

function finishScram(exchange: Exchange, clientFinal: Uint8Array): ScramSuccess {
  const { mechanism, credential } = exchange;
  const text = decodeMessage(clientFinal, 'client-final-message');
  const proofAt = text.lastIndexOf(',');
  const proofField = text.slice(proofAt + 1);
  if (proofAt < 0 || !proofField.startsWith('p=')) throw malformed('missing proof (p=)');
  const withoutProof = text.slice(0, proofAt);
  const [binding, nonce, ...extensions] = withoutProof.split(',');
  if (binding?.startsWith('c=') !== true) throw malformed('missing channel binding (c=)');
  if (nonce?.startsWith('r=') !== true) throw malformed('missing nonce (r=)');
  if (!extensions.every((extension) => ATTRIBUTE.test(extension))) throw malformed('malformed attribute');
  if (decodeBase64(binding.slice(2))?.equals(Buffer.from(exchange.gs2Header, 'utf8')) !== true) {
    throw malformed('channel binding (c=) does not match the GS2 header');
  }
  if (nonce.slice(2) !== exchange.combinedNonce) throw malformed('nonce (r=) does not match');
  const proof = decodeBase64(proofField.slice(2));
  if (proof?.length !== hashSize(mechanism)) throw malformed('proof (p=) is not a base64 hash');

  const authMessage = `${exchange.bare},${exchange.serverFirst},${withoutProof}`;
  if (!proofMatches(mechanism, credential, authMessage, proof)) throw new SaslFailure('not-authorized');
  // After the proof, so that the answer never tells anything to someone without the password.
  if (exchange.authzid !== undefined && exchange.authzid !== exchange.identity) {
    throw new SaslFailure('invalid-authzid', 'the authorization identity must be your own bare JID');
  }
  const serverSignature = hmac(mechanism, credential.serverKey, authMessage);
  return {
    identity: exchange.identity,
    serverFinal: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8'),
  };
}

/** RFC 5802 §3: ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) must be StoredKey. */
function proofMatches(
  mechanism: ScramMechanism,
  credential: DecodedCredential,
  authMessage: string,
  proof: Buffer,
): boolean {
  const clientSignature = hmac(mechanism, credential.storedKey, authMessage);
  const clientKey = Buffer.alloc(proof.length);
  for (let i = 0; i < proof.length; i++) clientKey[i] = (proof[i] ?? 0) ^ (clientSignature[i] ?? 0);
  return timingSafeEqual(digest(mechanism, clientKey), credential.storedKey);
}

import type { Config } from '@holdfast/config';
import type { DataOf, SmUnackedOutcome } from '@holdfast/events';
import { NS, canonicalJid, cloneElement, errorReply, isMessageType } from '@holdfast/xmpp';
import type { Element } from '@holdfast/xmpp';

/**
 * Termination outcome for unacked stanzas: shared/spec/stream-management.md §4. One pure decision per
 * stanza, made once when a c2s SM session reaches TERMINATED (T4, T6, T9, T10, T11, T11b, T13 when not
 * resumable, T15); the caller publishes each as `sm.unacked_outcome` (§6) and carries it out.
 */

type OutcomeEvent = DataOf<typeof SmUnackedOutcome>;
/** The `rule` of `sm.unacked_outcome` (the events catalog is the source): R7 is reported by sub-rule. */
export type OutcomeRule = OutcomeEvent['rule'];
export type OutcomeAction = OutcomeEvent['action'];

/** `unacked_message_policy` (spec §3, §4; the config table is the source). */
export type UnackedMessagePolicy = Config['unacked_message_policy'];

export interface OutcomeInput {
  readonly session: {
    readonly fullJid: string;
    readonly bareJid: string;
    /** The server's own domain (R9). */
    readonly domain: string;
    /** The session issued a MAM query at any time (R7a). */
    readonly issuedMamQuery: boolean;
  };
  /** The user's bound resources at that moment (hibernating ones count), full JIDs, including this one. */
  readonly boundResources: readonly string[];
  /**
   * Queued and CSI-held stanzas, in queue order, as the stamped copies of §2.5: this function has no
   * clock, so it never stamps; offline copies and bounces derive from what it is given.
   */
  readonly stanzas: readonly { readonly seq: number; readonly stanza: Element }[];
  readonly policy: UnackedMessagePolicy;
  /** Offline storage is available to take R7b messages. */
  readonly offlineEnabled: boolean;
  /** R0: sequence numbers an external disposer claimed (the sm.unacked.dispose reply; empty on timeout/no responders). */
  readonly claimed: ReadonlySet<number>;
}

interface OutcomeBase {
  readonly seq: number;
  /**
   * The stanza's `id` attribute, omitted when it has none or an empty one. Not the XEP-0359
   * `<stanza-id/>`: `id` is what the bounce carries back to the sender and what clients dedupe on;
   * `seq` already identifies the stanza within the session.
   */
  readonly stanzaId?: string;
  readonly rule: OutcomeRule;
}

/** Nothing left to route: a disposer took the stanza, or it is dropped. */
export interface SettledOutcome extends OutcomeBase {
  readonly action: 'claimed' | 'drop';
  readonly stanza?: undefined;
}

/** `offline`: a copy of the stamped stanza for offline storage. `bounce`: the error reply to route. */
export interface RoutedOutcome extends OutcomeBase {
  readonly action: 'offline' | 'bounce';
  readonly stanza: Element;
}

export type Outcome = SettledOutcome | RoutedOutcome;

/** An outcome before its `seq` and `stanzaId` are attached. */
type Decided = Omit<SettledOutcome, 'seq' | 'stanzaId'> | Omit<RoutedOutcome, 'seq' | 'stanzaId'>;

interface Verdict {
  readonly rule: OutcomeRule;
  readonly action: OutcomeAction;
}

interface Context {
  readonly input: OutcomeInput;
  readonly fullJid: string;
  readonly bareJid: string;
  readonly domain: string;
  readonly lastResource: boolean;
}

/**
 * Spec §4: one outcome per stanza, in queue order; for each stanza the first matching rule wins.
 *
 * Decisions the spec leaves open, taken here:
 * - `noerror` policy: where R7 would bounce a chat/normal message it is dropped, recorded under the R7
 *   sub-rule that decided it (R7b: last resource and not stored; R7c: not last resource). R9 is not
 *   consulted there: nothing bounces.
 * - `bounce` policy: R7a and R7b are skipped, so every chat/normal message falls through to R7c (bounce,
 *   or R9 drop).
 * - A message whose `type` is not one RFC 6121 defines is a `normal` one (RFC 6121 §5.2.2) and meets R7.
 * - JIDs (stanza `from`, `stanza-id by`, the session's and resources' JIDs) are compared in their
 *   prepared form (RFC 7622), so `Alice@Example.COM` is the user's bare JID; a value that is not a JID
 *   is compared as written and so matches none of them.
 * - An empty `from` counts as no `from` (R9): there is nobody to bounce to.
 * - A bounce of a stanza without `to` (or with an empty one) comes from the session's full JID.
 */
export function decideOutcomes(input: OutcomeInput): Outcome[] {
  const fullJid = canonicalJid(input.session.fullJid);
  const context: Context = {
    input,
    fullJid,
    bareJid: canonicalJid(input.session.bareJid),
    domain: canonicalJid(input.session.domain),
    // "Last resource" (§4): no other full JID is bound for the user at this moment.
    lastResource: !input.boundResources.some((resource) => canonicalJid(resource) !== fullJid),
  };
  return input.stanzas.map(({ seq, stanza }) => settle(context, seq, stanza));
}

function settle(context: Context, seq: number, stanza: Element): Outcome {
  const id = stanza.attrs.id;
  const base = { seq, ...(id !== undefined && id !== '' ? { stanzaId: id } : {}) };
  const { rule, action } = decide(context, seq, stanza);
  switch (action) {
    case 'claimed':
    case 'drop':
      return { ...base, rule, action };
    case 'offline':
      // §4 R7b: the copy keeps the delay stamp §2.5 put on the queued copy.
      return { ...base, rule, action, stanza: cloneElement(stanza) };
    case 'bounce':
      return { ...base, ...bounce(context, stanza, rule) };
  }
}

function decide(context: Context, seq: number, stanza: Element): Verdict {
  const { input } = context;
  const name = stanza.getName();
  const type = stanza.attrs.type;
  const from = stanza.attrs.from;
  if (input.claimed.has(seq)) return { rule: 'R0', action: 'claimed' };
  // RFC 6120 §8.3.1: an error is never answered.
  if (type === 'error') return { rule: 'R1', action: 'drop' };
  if (from !== undefined && canonicalJid(from) === context.fullJid) return { rule: 'R2', action: 'drop' };
  if (name === 'presence') return { rule: 'R3', action: 'drop' };
  // RFC 6120 §8.2.3: a result is never answered.
  if (name === 'iq' && type === 'result') return { rule: 'R4', action: 'drop' };
  if (name === 'message') {
    // XEP-0280 §7: carbon copies are wrapped in `<sent/>` or `<received/>`.
    if (
      stanza.getChild('sent', NS.CARBONS) !== undefined ||
      stanza.getChild('received', NS.CARBONS) !== undefined
    ) {
      return { rule: 'R5', action: 'drop' };
    }
    // XEP-0313 §4.2: an archive query result.
    if (stanza.getChild('result', NS.MAM) !== undefined) return { rule: 'R6', action: 'drop' };
    if (type === undefined || type === 'chat' || type === 'normal' || !isMessageType(type)) {
      return decideChat(context, stanza);
    }
  }
  return { rule: 'R8', action: 'bounce' };
}

/** §4 R7 and `unacked_message_policy`, for a chat or normal message. */
function decideChat(context: Context, stanza: Element): Verdict {
  const { policy, offlineEnabled, session } = context.input;
  if (policy === 'bounce') return { rule: 'R7c', action: 'bounce' };
  const notStored = policy === 'noerror' ? 'drop' : 'bounce';
  const archived = hasOwnStanzaId(stanza, context.bareJid);
  if (session.issuedMamQuery && archived) return { rule: 'R7a', action: 'drop' };
  if (context.lastResource) {
    if (offlineEnabled) return { rule: 'R7b', action: 'offline' };
    return { rule: 'R7b', action: archived ? 'drop' : notStored };
  }
  return { rule: 'R7c', action: notStored };
}

/**
 * XEP-0359, XEP-0313 §3.5: `stanza` carries a `<stanza-id/>` the user's own archive assigned (`by` = the
 * user's bare JID, compared in prepared form): what R7a and R7b mean by "archived".
 */
export function hasOwnStanzaId(stanza: Element, bareJid: string): boolean {
  const owner = canonicalJid(bareJid);
  return stanza.getChildren('stanza-id', NS.SID).some((child) => {
    const by = child.attrs.by;
    return by !== undefined && canonicalJid(by) === owner;
  });
}

/**
 * §4 bounce, or R9 when there is nobody to bounce to: an error reply from the server with `to` = S.from,
 * `from` = S.to, same `id` and element name, `type='error'` and only
 * `<error type='wait' by='<user bare JID>'><recipient-unavailable/></error>` (RFC 6120 §8.3.3.13).
 */
function bounce(context: Context, stanza: Element, rule: OutcomeRule): Decided {
  const from = stanza.attrs.from;
  if (from === undefined || from === '') return { rule: 'R9', action: 'drop' };
  const sender = canonicalJid(from);
  if (sender === context.bareJid || sender === context.domain) return { rule: 'R9', action: 'drop' };
  const reply = errorReply(stanza, {
    type: 'wait',
    condition: 'recipient-unavailable',
    by: context.input.session.bareJid,
  });
  // errorReply refuses only non-stanzas here (errors and results were settled by R1 and R4).
  if (reply === undefined) return { rule, action: 'drop' };
  const to = stanza.attrs.to;
  if (to === undefined || to === '') reply.attrs.from = context.input.session.fullJid;
  return { rule, action: 'bounce', stanza: reply };
}

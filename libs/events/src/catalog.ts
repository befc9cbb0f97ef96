import { z } from 'zod';

import { defineCommand, defineEvent } from './definition.js';
import { partitionOf } from './partition.js';
import { encodeToken } from './subject-token.js';

/**
 * The event catalog: every event and command Holdfast exchanges over NATS, with its subject, payload
 * schema and version. Behaviour references: shared/spec/stream-management.md §6 (sm.*),
 * shared/spec/muc-reliability.md §2 (s2s.closed).
 */

const jid = z.string().min(1).max(3071);
const sessionId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'session ids are 8-64 base64url characters');
const isoTime = z.iso.datetime();
const count = z.number().int().min(0);
/** XEP-0198 counters are xs:unsignedInt and wrap at 2^32 (spec §1.3). */
const counter = z.number().int().min(0).max(0xffff_ffff);
/** A serialized stanza (XML text). */
const stanza = z.string().min(1);

/**
 * Lanes of a stream-management session's log (`hf.session.<partition>.<session>.<lane>.<type>`), so one
 * wildcard selects what a reader needs (docs/stream-management.md):
 * - `f.state`: state transitions (enable, hibernate, claim, terminate), each carrying the whole state;
 * - `f.queue`: stanzas queued while the session has no connection;
 * - `o.queue`: stanzas its connected gateway made durable before writing them;
 * - `in`: stanzas read from the client; `ack`: the client's acknowledgements.
 * Everything under `f.` is the fence: publishes on a session check that nothing under `f.` changed since
 * their writer last looked (a claim by another gateway, or a queued stanza it must pick up).
 */
export type SessionLane = 'f.state' | 'f.queue' | 'o.queue' | 'in' | 'ack';

/** `hf.session.<partition>.<session>[.<lane>].<type>`: one session's events on one subject tree, in order. */
function sessionSubject(session: string, type: string, lane?: SessionLane | 'f'): string {
  const base = `hf.session.${partitionOf(session)}.${encodeToken(session)}`;
  return lane === undefined ? `${base}.${type}` : `${base}.${lane}.${type}`;
}

/** The subjects of one lane of a session (`f` = the whole fence). */
export function sessionLaneFilter(session: string, lane: SessionLane | 'f'): string {
  return sessionSubject(session, '>', lane);
}

/** The filter for one partition of the session stream (what a session-state worker consumes). */
export function sessionPartitionFilter(partition: number): string {
  return `hf.session.${partition}.>`;
}

/** The subject of one event type of a session that lives outside the lanes (e.g. `sm.unacked_outcome`). */
export function sessionTypeFilter(session: string, type: string): string {
  return sessionSubject(session, type);
}

/** The filter for every event of one session. */
export function sessionFilter(session: string): string {
  return sessionSubject(session, '>');
}

const sessionEvent = <const T extends string, S extends z.ZodRawShape>(
  type: T,
  shape: S,
  lane?: SessionLane,
) =>
  defineEvent({
    type,
    version: 1,
    stream: 'session',
    schema: z.object({ session: sessionId, ...shape }),
    // The schema always has `session`; TypeScript cannot see that through the generic shape.
    subject: (data) => sessionSubject((data as { session: string }).session, type, lane),
  });

/**
 * The whole state of a stream-management session after a transition (spec §2.1), so the last `f.state`
 * event is a snapshot on its own. Counters are those known to the writer at that moment.
 */
export const smState = z.object({
  /** The fence (§2.1): 1 at enable, +1 per successful resume claim. */
  version: z.number().int().min(1),
  status: z.enum(['ACTIVE', 'HIBERNATING', 'TERMINATED']),
  /** Full JID of the session's resource. */
  jid,
  resumable: z.boolean(),
  /** SHA-256 (base64url) of the secret part of the SM-ID; the SM-ID itself is never stored. */
  secretHash: z.string().optional(),
  /** Effective resume window in seconds (§1.2). */
  max: count,
  /** Gateway node holding the connection while ACTIVE. */
  owner: z.string().min(1).optional(),
  enabledAt: isoTime,
  hibernatedAt: isoTime.optional(),
  deadline: isoTime.optional(),
  terminatedKind: z.enum(['closed', 'expired', 'evicted', 'overflow']).optional(),
  /** Stanzas the server handled from the client (inbound `h`). */
  h: counter,
  /** Stanzas the client acknowledged, and the stream sequence of the last acknowledged queue entry. */
  acked: counter,
  ackedThrough: count,
  /** Queue entries up to this stream sequence have been written to a connection (re-sent on a resume). */
  writtenThrough: count,
  /** TERMINATED as expired, evicted or overflow with its h-record kept for one `<failed h/>` (spec §5). */
  recordKept: z.boolean().optional(),
});
export type SmState = z.infer<typeof smState>;

export const ConnectionOpened = sessionEvent('connection.opened', {
  gateway: z.string().min(1),
  transport: z.enum(['tcp', 'tls', 'websocket']),
  remote: z.string(),
});

export const ConnectionBound = sessionEvent('connection.bound', { jid });

export const ConnectionClosed = sessionEvent('connection.closed', {
  jid: jid.optional(),
  reason: z.enum(['clean', 'unclean', 'replaced', 'error']),
  /** RFC 6120 stream error condition, when the close was one. */
  condition: z.string().optional(),
});

/** A stanza read from the client; `h` is the inbound count it made when SM is on (spec §1.3). */
export const StanzaReceived = sessionEvent('stanza.received', { h: counter.optional(), stanza }, 'in');

/**
 * A stanza accepted for delivery to the client, made durable before it is written; `seq` is its outbound
 * count when SM is on. With SM on `stanza` is the delay-stamped copy (spec §2.5) that re-sends and §4 use.
 */
export const StanzaSent = sessionEvent('stanza.sent', { seq: counter.optional(), stanza }, 'o.queue');

export const SmEnabled = sessionEvent(
  'sm.enabled',
  { jid, resumable: z.boolean(), max: count.optional(), state: smState },
  'f.state',
);

export const SmAckDelayed = sessionEvent('sm.ack_delayed', { jid, unacked: count, queued: count });

export const SmHibernationStarted = sessionEvent(
  'sm.hibernation_started',
  { jid, deadline: isoTime, queued: count, state: smState },
  'f.state',
);

/**
 * A hibernating session's deadline moved (`sm.hibernation.set_deadline`, §6): the timer of the state
 * before it is void; the state carries the new `deadline`.
 */
export const SmHibernationDeadlineSet = sessionEvent(
  'sm.hibernation_deadline_set',
  { jid, deadline: isoTime, state: smState },
  'f.state',
);

/** A stanza queued for a session without a connection: the stamped copy (§2.5) is the queue entry. */
export const SmHibernationStanzaQueued = sessionEvent(
  'sm.hibernation_stanza_queued',
  { jid, stanza, queueLength: count },
  'f.queue',
);

/** A resume claim committed (T3/T8/T12): the new connection's gateway owns the session from here. */
export const SmHibernationEnded = sessionEvent(
  'sm.hibernation_ended',
  { jid, hibernatedS: z.number().min(0), resent: count, state: smState },
  'f.state',
);

export const SmSessionTerminated = sessionEvent(
  'sm.session_terminated',
  {
    jid,
    kind: z.enum(['closed', 'expired', 'evicted', 'overflow']),
    h: counter,
    unacked: count,
    state: smState,
  },
  'f.state',
);

/** The fate of one unacked stanza at termination (spec §4 rules R0-R9). */
export const SmUnackedOutcome = sessionEvent('sm.unacked_outcome', {
  /** The stanza's place in the terminated session's queue (1 = oldest): one outcome per place. */
  seq: z.number().int().min(1).optional(),
  stanzaId: z.string().optional(),
  rule: z.enum(['R0', 'R1', 'R2', 'R3', 'R4', 'R5', 'R6', 'R7a', 'R7b', 'R7c', 'R8', 'R9']),
  action: z.enum(['claimed', 'offline', 'bounce', 'drop']),
});

/**
 * The session issued a MAM query (XEP-0313), spec §4 R7a: written once per session by the gateway that owns
 * its connection, fenced on the session's `f.>` lanes like its other writes, so once a termination is
 * committed no late one can land, and read only by whoever decides the session's §4 outcomes. It lives
 * outside the lanes: the projection (`f.>`) and the hibernation timers (`f.state.>`) never see it, and
 * it moves no fence.
 */
export const SmMamQueried = sessionEvent('sm.mam_queried', { jid });

/** Never carries the SM-ID in clear (spec §6). */
export const SmResumeFailed = sessionEvent('sm.resume_failed', {
  bareJid: jid,
  condition: z.string().min(1),
});

/** `<a h/>` advanced: `through` is the stream sequence of the last queue entry it acknowledges. */
export const SmAcked = sessionEvent('sm.acked', { acked: counter, through: count.optional() }, 'ack');

/**
 * The subjects of a session's queue entries (sent, and queued while hibernating), in full: no wildcard.
 * nats-server finds a literal subject through its subject index, but walks every message block after
 * the start of a read by a wildcard once the stream holds 64Ki subjects or more (filestore
 * `LoadNextMsg`, 2.12): at 100,000 sessions that walk was a fifth of its CPU.
 */
export function sessionQueueSubjects(session: string): string[] {
  return [
    sessionSubject(session, StanzaSent.type, 'o.queue'),
    sessionSubject(session, SmHibernationStanzaQueued.type, 'f.queue'),
  ];
}

export const S2sClosed = defineEvent({
  type: 's2s.closed',
  version: 1,
  stream: 's2s',
  schema: z.object({
    localDomain: z.string().min(1),
    remoteDomains: z.array(z.string().min(1)).min(1),
    direction: z.enum(['in', 'out']),
    reason: z.string(),
    at: isoTime,
  }),
  subject: (data) => `hf.s2s.${encodeToken(data.localDomain)}.closed`,
});

/** Every event definition: the decoder's lookup table and the source of the `AnyEvent` union. */
export const EVENT_DEFINITIONS = [
  ConnectionOpened,
  ConnectionBound,
  ConnectionClosed,
  StanzaReceived,
  StanzaSent,
  SmEnabled,
  SmAckDelayed,
  SmHibernationStarted,
  SmHibernationDeadlineSet,
  SmHibernationStanzaQueued,
  SmHibernationEnded,
  SmSessionTerminated,
  SmUnackedOutcome,
  SmMamQueried,
  SmResumeFailed,
  SmAcked,
  S2sClosed,
] as const;

/** Spec §6 R0: one request per termination with all its unacked stanzas; the reply names the claimed ones. */
export const SmUnackedDispose = defineCommand({
  name: 'sm.unacked.dispose',
  request: z.object({
    session: sessionId,
    jid,
    stanzas: z.array(z.object({ seq: counter, stanza })),
  }),
  reply: z.object({ claimed: z.array(counter) }),
});

/**
 * Spec §2.3 step 2-3: a resume claim, answered by session-state with a compare-and-set on the session's
 * log. `secret` is the part of the SM-ID after the session id; only its hash is compared.
 */
export const SmResumeClaim = defineCommand({
  name: 'sm.resume.claim',
  request: z.object({
    session: sessionId,
    bareJid: jid,
    secret: z.string().min(1).max(128),
    h: counter,
    /** The gateway whose connection takes the session over. */
    gateway: z.string().min(1),
  }),
  reply: z.discriminatedUnion('ok', [
    z.object({
      ok: z.literal(false),
      condition: z.enum(['item-not-found', 'undefined-condition', 'internal-server-error']),
      h: counter.optional(),
      /**
       * §7.3: the session was HIBERNATING past its deadline; this `<failed h/>` is its only report. The
       * resuming gateway expires it (T9 with no h-record kept) at version `expire`.
       */
      expire: z.number().int().min(1).optional(),
    }),
    z.object({
      ok: z.literal(true),
      /** The state the claim committed (version bumped, owner = the claiming gateway). */
      state: smState,
      /** Stream sequence of the claim: the fence the new owner publishes against. */
      fence: z.number().int().min(1),
      /** The gateway that still held a connection (T12), to be kicked with `conflict`. */
      previousOwner: z.string().optional(),
      hibernatedS: z.number().min(0),
    }),
  ]),
});

/** Spec §6: a push service moves a hibernating session's deadline, within the spec's bounds. */
export const SmSetHibernationDeadline = defineCommand({
  name: 'sm.hibernation.set_deadline',
  request: z.object({ session: sessionId, deadline: isoTime }),
  reply: z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), deadline: isoTime }),
    z.object({ ok: z.literal(false), reason: z.enum(['not-hibernating', 'unknown-session']) }),
  ]),
});

/**
 * Ends a session that has no connection (T9 `expired`, T11 `evicted`), or finishes a committed
 * termination of any kind (`finish`), asked by the timeout service or session-state and carried out by
 * any gateway (a queue group): the fenced termination, §4 for its queue
 * and the unavailable presence. Only the state at `version` that is still HIBERNATING is ended (§7.16: a
 * timer for a session resumed, replaced or revoked meanwhile is a no-op); `expired` also waits for the
 * deadline it finds (`early` with the deadline, so a moved deadline is re-armed, never fired early).
 */
export const SmTerminate = defineCommand({
  name: 'sm.terminate',
  request: z.object({
    session: sessionId,
    kind: z.enum(['expired', 'evicted', 'closed', 'overflow']),
    version: z.number().int().min(1),
    /** §5, §7.3: keep no h-record (a resume that found the deadline passed reports `h` itself). */
    keepRecord: z.boolean().optional(),
    /**
     * Only finish a termination of this kind and version that is already committed: carry out the §4
     * outcomes not logged yet (its gateway died in between). Never ends a live session.
     */
    finish: z.literal(true).optional(),
  }),
  reply: z.discriminatedUnion('result', [
    z.object({ result: z.literal('terminated'), unacked: count }),
    z.object({ result: z.literal('stale') }),
    z.object({ result: z.literal('early'), deadline: isoTime }),
  ]),
});

/** Delivers a stanza to a session bound on one gateway (the target: its node id). */
export const GatewayDeliver = defineCommand({
  name: 'gateway.deliver',
  targeted: true,
  request: z.object({
    to: jid,
    stanza,
    /** The delivery's identity (routed stanza + target session): the session's log stores it once. */
    delivery: z.string().min(1).max(256).optional(),
  }),
  /** `delivered: false`: no such session there any more; the sender re-routes. */
  reply: z.object({ delivered: z.boolean() }),
});

/** Ends a session on one gateway with a stream error, e.g. `conflict` when its resource is bound elsewhere. */
export const GatewayKick = defineCommand({
  name: 'gateway.kick',
  targeted: true,
  request: z.object({ jid, session: sessionId, condition: z.string().min(1) }),
  reply: z.object({ closed: z.boolean() }),
});

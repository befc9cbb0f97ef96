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

/** `hf.session.<partition>.<session>.<type>`: one session's events on one subject tree, in order. */
function sessionSubject(session: string, type: string): string {
  return `hf.session.${partitionOf(session)}.${encodeToken(session)}.${type}`;
}

/** The filter for one partition of the session stream (what a session-state worker consumes). */
export function sessionPartitionFilter(partition: number): string {
  return `hf.session.${partition}.>`;
}

/** The filter for every event of one session. */
export function sessionFilter(session: string): string {
  return sessionSubject(session, '>');
}

const sessionEvent = <const T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
  defineEvent({
    type,
    version: 1,
    stream: 'session',
    schema: z.object({ session: sessionId, ...shape }),
    // The schema always has `session`; TypeScript cannot see that through the generic shape.
    subject: (data) => sessionSubject((data as { session: string }).session, type),
  });

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
export const StanzaReceived = sessionEvent('stanza.received', { h: counter.optional(), stanza });

/** A stanza accepted for delivery to the client; `seq` is its outbound count when SM is on. */
export const StanzaSent = sessionEvent('stanza.sent', { seq: counter.optional(), stanza });

export const SmEnabled = sessionEvent('sm.enabled', { jid, resumable: z.boolean(), max: count.optional() });

export const SmAckDelayed = sessionEvent('sm.ack_delayed', { jid, unacked: count, queued: count });

export const SmHibernationStarted = sessionEvent('sm.hibernation_started', {
  jid,
  deadline: isoTime,
  queued: count,
});

export const SmHibernationStanzaQueued = sessionEvent('sm.hibernation_stanza_queued', {
  jid,
  stanza,
  queueLength: count,
});

export const SmHibernationEnded = sessionEvent('sm.hibernation_ended', {
  jid,
  hibernatedS: z.number().min(0),
  resent: count,
});

export const SmSessionTerminated = sessionEvent('sm.session_terminated', {
  jid,
  kind: z.enum(['closed', 'expired', 'evicted', 'overflow']),
  h: counter,
  unacked: count,
});

/** The fate of one unacked stanza at termination (spec §4 rules R0-R9). */
export const SmUnackedOutcome = sessionEvent('sm.unacked_outcome', {
  stanzaId: z.string().optional(),
  rule: z.enum(['R0', 'R1', 'R2', 'R3', 'R4', 'R5', 'R6', 'R7a', 'R7b', 'R7c', 'R8', 'R9']),
  action: z.enum(['claimed', 'offline', 'bounce', 'drop']),
});

/** Never carries the SM-ID in clear (spec §6). */
export const SmResumeFailed = sessionEvent('sm.resume_failed', {
  bareJid: jid,
  condition: z.string().min(1),
});

export const SmAcked = sessionEvent('sm.acked', { acked: counter });

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
  SmHibernationStanzaQueued,
  SmHibernationEnded,
  SmSessionTerminated,
  SmUnackedOutcome,
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

/** Spec §6: a push service moves a hibernating session's deadline, within the spec's bounds. */
export const SmSetHibernationDeadline = defineCommand({
  name: 'sm.hibernation.set_deadline',
  request: z.object({ session: sessionId, deadline: isoTime }),
  reply: z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), deadline: isoTime }),
    z.object({ ok: z.literal(false), reason: z.enum(['not-hibernating', 'unknown-session']) }),
  ]),
});

/** Delivers a stanza to a session bound on one gateway (the target: its node id). */
export const GatewayDeliver = defineCommand({
  name: 'gateway.deliver',
  targeted: true,
  request: z.object({ to: jid, stanza }),
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

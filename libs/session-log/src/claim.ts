import { createHash, timingSafeEqual } from 'node:crypto';

import { ConcurrencyConflictError } from '@holdfast/bus';
import {
  SmHibernationEnded,
  SmSessionTerminated,
  decodeEvent,
  sessionLaneFilter,
  type ReplyOf,
  type RequestOf,
  type SmResumeClaim,
  type SmState,
} from '@holdfast/events';
import { decideResume, type ResumeSnapshot } from '@holdfast/sm';

import { stateWithout, type SessionLog, type SessionSnapshot } from './session-log.js';

type ClaimRequest = RequestOf<typeof SmResumeClaim>;
type ClaimReply = ReplyOf<typeof SmResumeClaim>;

/** A claim that keeps losing races this often answers `internal-server-error` (the client retries). */
const MAX_ATTEMPTS = 8;

/** SHA-256 of an SM-ID secret, as the state stores it. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

export function bareOf(fullJid: string): string {
  const slash = fullJid.indexOf('/');
  return slash < 0 ? fullJid : fullJid.slice(0, slash);
}

function secretMatches(state: SmState, secret: string): boolean {
  if (state.secretHash === undefined) return false;
  const expected = Buffer.from(state.secretHash);
  const given = Buffer.from(hashSecret(secret));
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The pure core's view of a logged session (spec §2.3 step 2). */
export function resumeSnapshotOf(snapshot: SessionSnapshot): ResumeSnapshot {
  const { state } = snapshot.record;
  return {
    bareJid: bareOf(state.jid),
    state: state.status,
    terminatedKind: state.terminatedKind,
    hRecord: state.status === 'TERMINATED' && state.recordKept === true ? state.h : undefined,
    terminatedAt: state.status === 'TERMINATED' ? snapshot.record.at : undefined,
    sent: snapshot.sent,
    acked: snapshot.acked,
    inboundH: snapshot.h,
    deadline: state.deadline === undefined ? undefined : new Date(state.deadline),
    version: state.version,
  };
}

export interface ClaimOptions {
  readonly now?: () => Date;
  /** Config `old_session_ttl_s` (§3). */
  readonly oldSessionTtlS?: number;
  /**
   * §5 `max_old_sessions` at read time: how many h-records the user keeps that are newer than the one
   * about to be reported. With `maxOldSessions` or more, the record counts as pruned (the pruning after
   * an insert runs in the background and may not have reached it yet).
   */
  readonly newerRecords?: (bareJid: string, session: string, terminatedAt: Date) => Promise<number>;
  readonly maxOldSessions?: number;
}

/**
 * Spec §2.3 steps 2-3 on the log: snapshot, decide (the pure `decideResume`), then commit the claim as a
 * publish fenced on the snapshot, so two racing claims (or a claim racing a queued stanza, an expiry or a
 * termination) cannot both win; the loser decides again on a fresh snapshot. After the commit, the
 * counters are re-read: whatever the old connection made durable before the fence moved is covered.
 */
export async function claimResume(
  log: SessionLog,
  request: ClaimRequest,
  options: ClaimOptions = {},
): Promise<ClaimReply> {
  const now = options.now ?? (() => new Date());
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const snapshot = await log.snapshot(request.session);
    const stored = snapshot === undefined ? undefined : resumeSnapshotOf(snapshot);
    // Someone else's or a forged SM-ID looks exactly like an unknown one (§7.6).
    const owned =
      snapshot !== undefined && stored !== undefined && secretMatches(snapshot.record.state, request.secret);
    const at = now();
    const decision = decideResume(
      owned ? stored : undefined,
      { kind: 'resume', previd: request.session, h: request.h },
      { bareJid: request.bareJid, now: at, oldSessionTtlS: options.oldSessionTtlS },
    );
    try {
      if (decision.kind === 'failed') {
        const condition =
          decision.condition === 'undefined-condition' ? decision.condition : 'item-not-found';
        if (snapshot !== undefined && owned && decision.expireWithoutRecord === true) {
          // §7.3: the resuming gateway ends it (T9: §4 and unbind, which need its router).
          return { ok: false, condition, h: decision.h, expire: snapshot.record.state.version };
        }
        if (snapshot !== undefined && owned && decision.deleteRecord === true) {
          await revoke(log, snapshot, at);
          if (decision.h !== undefined && (await prunedMeanwhile(snapshot, request, options))) {
            return { ok: false, condition };
          }
        }
        return decision.h === undefined ? { ok: false, condition } : { ok: false, condition, h: decision.h };
      }
      if (snapshot === undefined) return { ok: false, condition: 'item-not-found' };
      return await commit(log, snapshot, request, decision.newlyAcked, at);
    } catch (error) {
      if (!(error instanceof ConcurrencyConflictError)) throw error;
    }
  }
  return { ok: false, condition: 'internal-server-error' };
}

/** §5: the record about to be reported is beyond the user's newest `max_old_sessions`. */
async function prunedMeanwhile(
  snapshot: SessionSnapshot,
  request: ClaimRequest,
  options: ClaimOptions,
): Promise<boolean> {
  if (options.newerRecords === undefined || options.maxOldSessions === undefined) return false;
  const newer = await options.newerRecords(request.bareJid, snapshot.session, snapshot.record.at);
  return newer >= options.maxOldSessions;
}

async function commit(
  log: SessionLog,
  snapshot: SessionSnapshot,
  request: ClaimRequest,
  newlyAcked: number,
  at: Date,
): Promise<ClaimReply> {
  const previous = snapshot.record.state;
  const written = snapshot.entries.filter(
    (entry) => entry.kind === 'sent' || entry.seq <= previous.writtenThrough,
  );
  const ackedThrough =
    newlyAcked > 0 ? (written[newlyAcked - 1]?.seq ?? snapshot.ackedThrough) : snapshot.ackedThrough;
  const state: SmState = {
    ...withoutHibernation(previous),
    version: previous.version + 1,
    status: 'ACTIVE',
    owner: request.gateway,
    h: snapshot.h,
    acked: request.h,
    ackedThrough,
    writtenThrough: snapshot.fence,
  };
  const hibernatedS =
    previous.hibernatedAt === undefined
      ? 0
      : Math.max(0, (at.getTime() - Date.parse(previous.hibernatedAt)) / 1000);
  const published = await log.publishFenced(
    SmHibernationEnded,
    {
      id: `${request.session}.claim.${state.version}`,
      at,
      data: {
        session: request.session,
        jid: state.jid,
        hibernatedS,
        resent: snapshot.entries.length - newlyAcked,
        state,
      },
    },
    snapshot.record.seq,
    'f.state',
  );
  // §2.3 step 6: `h` is read after the fence; the old connection may have made stanzas durable until then.
  const lastIn = await log.last(sessionLaneFilter(request.session, 'in'));
  let h = state.h;
  if (lastIn !== undefined && lastIn.seq > snapshot.record.seq && lastIn.seq < published.seq) {
    const event = decodeEvent(lastIn.data);
    if (event.type === 'stanza.received' && event.data.h !== undefined) h = event.data.h;
  }
  return {
    ok: true,
    // Everything logged before the claim is the new owner's to re-send (see SessionLog.state).
    state: { ...state, h, writtenThrough: published.seq },
    fence: published.seq,
    ...(previous.status === 'ACTIVE' && previous.owner !== undefined
      ? { previousOwner: previous.owner }
      : {}),
    hibernatedS,
  };
}

function withoutHibernation(state: SmState): SmState {
  return stateWithout(state, 'hibernatedAt', 'deadline');
}

/**
 * T14 and §5: the h-record was reported, aged out or pruned. The session stays TERMINATED with no record
 * kept, so the next attempt gets a plain `item-not-found`.
 */
async function revoke(log: SessionLog, snapshot: SessionSnapshot, at: Date): Promise<void> {
  const previous = snapshot.record.state;
  const state: SmState = {
    ...stateWithout(previous, 'owner', 'hibernatedAt', 'deadline'),
    status: 'TERMINATED',
    terminatedKind: previous.terminatedKind ?? 'closed',
    recordKept: false,
    h: snapshot.h,
  };
  await log.publishFenced(
    SmSessionTerminated,
    {
      id: `${snapshot.session}.revoked.${snapshot.fence}`,
      at,
      data: {
        session: snapshot.session,
        jid: state.jid,
        kind: state.terminatedKind ?? 'closed',
        h: snapshot.h,
        // The termination's queue, still unacked: the timeout service checks its outcomes again.
        unacked: snapshot.entries.length,
        state,
      },
    },
    snapshot.record.seq,
    'f.state',
  );
}

/**
 * §5: deletes a terminated session's h-record (pruned by `max_old_sessions`, aged out, or revoked), so
 * a resume gets `item-not-found` without `h`. False when there was no record to delete.
 */
export async function forgetRecord(
  log: SessionLog,
  session: string,
  now: Date = new Date(),
): Promise<boolean> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const snapshot = await log.snapshot(session);
    const state = snapshot?.record.state;
    if (snapshot === undefined || state?.status !== 'TERMINATED' || state.recordKept !== true) return false;
    try {
      await revoke(log, snapshot, now);
      return true;
    } catch (error) {
      if (!(error instanceof ConcurrencyConflictError)) throw error;
    }
  }
  throw new Error(`session ${session} is too contended to forget its h-record`);
}

import { parseH, validateAck } from './counter.js';
import { SmError } from './errors.js';
import { failed, isStreamAuthenticated } from './stream.js';
import type { SmAttrs, SmFailed, SmStreamSnapshot } from './stream.js';

/** A well-formed `<resume/>` on a stream that may resume (§2.3 step 1); next: the session lookup. */
export interface ResumeRequest {
  readonly kind: 'resume';
  readonly previd: string;
  /** Stanzas the client handled from the server on the old stream (§1.2). */
  readonly h: number;
}

/**
 * §2.3 step 1: the stream checks of §1.4, in its order, before any session is looked up. Reading stays
 * suspended from here until `<resumed/>` or `<failed/>` (§1.3).
 */
export function checkResumeRequest(stream: SmStreamSnapshot, attrs: SmAttrs): SmFailed | ResumeRequest {
  // §1.4 row 2 [ours]: not-authorized before authentication.
  if (!isStreamAuthenticated(stream)) return failed('not-authorized');
  // §1.4 row 5: a resource is already bound (by bind or an earlier resume).
  if (stream.bound) return failed('unexpected-request');
  // §1.4 row 6, §1.2, §1.6: resumption disabled, or any s2s stream.
  if (stream.s2s || stream.hibernationTimeS <= 0) return failed('feature-not-implemented');
  // §1.4 row 7 [ours]: previd missing or empty, h missing or malformed (§1.3).
  const { previd } = attrs;
  const h = parseH(attrs.h);
  if (previd === undefined || previd === '' || h === undefined) return failed('bad-request');
  return { kind: 'resume', previd, h };
}

/** §2.1 states an SM session can be found in by a resume. */
export type SmSessionState = 'ACTIVE' | 'HIBERNATING' | 'TERMINATED';

/** §2.1: `closed` revokes the SM-ID; the others keep an h-record (§5). */
export type TerminatedKind = 'closed' | 'expired' | 'evicted' | 'overflow';

/** The session found for *(bare JID, previd)*, read before the claim (§2.3 step 2). */
export interface ResumeSnapshot {
  readonly bareJid: string;
  readonly state: SmSessionState;
  readonly terminatedKind?: TerminatedKind | undefined;
  /** TERMINATED with a kept h-record (§5): the inbound `h` to report once in `<failed h/>`. */
  readonly hRecord?: number | undefined;
  /** When the h-record was kept; with `oldSessionTtlS` it ages out (§5). */
  readonly terminatedAt?: Date | undefined;
  /** Outbound stanzas written on the session's connections (§2.4: queued-only ones are not sent). */
  readonly sent: number;
  readonly acked: number;
  /** Stanzas the server handled from the client. */
  readonly inboundH: number;
  /** HIBERNATING: when the session expires (T9). */
  readonly deadline?: Date | undefined;
  /** The fence (§2.1), compared by the claim (§2.3 step 3). */
  readonly version: number;
}

export interface ResumeContext {
  /** The authenticated bare JID of the resuming stream, in the same canonical form as `snapshot.bareJid`. */
  readonly bareJid: string;
  readonly now: Date;
  /** Config `old_session_ttl_s` (§3); 0 or absent = h-records never age out. */
  readonly oldSessionTtlS?: number | undefined;
}

/** §1.4 rows 8-9: `<failed/>` to a resume, and what the caller must do to the stored session. */
export interface ResumeFailed extends SmFailed {
  /** T14 / §5: the h-record was reported (or aged out): delete it. */
  readonly deleteRecord?: true;
  /**
   * §5, §7.3: a HIBERNATING session whose deadline has passed. Expire it now (T9: §4, unbind) but store
   * no h-record, because this `<failed h/>` is the one report of its `h`.
   */
  readonly expireWithoutRecord?: true;
}

/**
 * Commit by compare-and-set on `expectedVersion` and `expectedAcked` (§2.3 step 3): bump the version,
 * attach the new connection, set `acked`, cancel the deadline. A lost race re-reads the snapshot and
 * decides again.
 */
export interface ResumeClaim {
  readonly kind: 'claim';
  readonly expectedVersion: number;
  readonly expectedAcked: number;
  /** The client's `h`, applied like an `<a/>`. */
  readonly acked: number;
  /** Queue entries the claim acknowledges; the rest are re-sent after `<resumed/>` (§2.3 step 7). */
  readonly newlyAcked: number;
  /** T12: the session still has a connection, which is kicked with `conflict` after the commit (§2.3 step 4). */
  readonly takeover: boolean;
}

const NOT_FOUND: ResumeFailed = failed('item-not-found');

function recordAgedOut(snapshot: ResumeSnapshot, context: ResumeContext): boolean {
  const ttlS = context.oldSessionTtlS ?? 0;
  if (ttlS <= 0 || snapshot.terminatedAt === undefined) return false;
  return context.now.getTime() - snapshot.terminatedAt.getTime() >= ttlS * 1000;
}

/**
 * §2.3 step 2: decide a well-formed resume against the snapshot of *(bare JID, previd)*, or `undefined`
 * when nothing is stored. Any `<failed/>` leaves the session as it was, except as flagged.
 */
export function decideResume(
  snapshot: ResumeSnapshot | undefined,
  request: ResumeRequest,
  context: ResumeContext,
): ResumeFailed | ResumeClaim {
  if (Number.isNaN(context.now.getTime())) throw new SmError('HF_SM_TIME_INVALID', 'now is an invalid Date');
  // §1.4 row 8, §7.6: unknown and another user's look the same; the owner's session is untouched.
  if (snapshot === undefined || snapshot.bareJid !== context.bareJid) return NOT_FOUND;

  if (snapshot.state === 'TERMINATED') {
    // §2.1: `closed` revoked the SM-ID and kept no h.
    if (snapshot.terminatedKind === undefined || snapshot.terminatedKind === 'closed') return NOT_FOUND;
    // §5: a missing (pruned) record is plain item-not-found; one past old_session_ttl_s is deleted.
    if (snapshot.hRecord === undefined) return NOT_FOUND;
    if (recordAgedOut(snapshot, context)) return { ...NOT_FOUND, deleteRecord: true };
    // T14, §5: reported once, then deleted.
    return { kind: 'failed', condition: 'item-not-found', h: snapshot.hRecord, deleteRecord: true };
  }

  // §5, §7.3: a deadline already reached counts as expired; this answer is its only report.
  if (
    snapshot.state === 'HIBERNATING' &&
    snapshot.deadline !== undefined &&
    context.now.getTime() >= snapshot.deadline.getTime()
  ) {
    return { kind: 'failed', condition: 'item-not-found', h: snapshot.inboundH, expireWithoutRecord: true };
  }

  // §1.4 row 10, §1.3: the client's h must lie in the unacked window.
  const check = validateAck({ h: request.h, acked: snapshot.acked, sent: snapshot.sent });
  if (!check.ok) return failed('undefined-condition');

  return {
    kind: 'claim',
    expectedVersion: snapshot.version,
    expectedAcked: snapshot.acked,
    acked: request.h,
    newlyAcked: check.newlyAcked,
    takeover: snapshot.state === 'ACTIVE',
  };
}

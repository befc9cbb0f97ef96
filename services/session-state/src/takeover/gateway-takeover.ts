import { ConcurrencyConflictError, type BusLogger } from '@holdfast/bus';
import { SmHibernationStarted, SmSessionTerminated } from '@holdfast/events';
import type { SessionLog } from '@holdfast/session-log';
import { SmSessions, type Store } from '@holdfast/store';

import { decideTakeover } from './decide-takeover.js';

export type TakeoverOutcome = 'hibernated' | 'terminated' | 'left';

export interface TakeoverReport {
  readonly node: string;
  readonly hibernated: number;
  readonly terminated: number;
  readonly left: number;
}

export interface GatewayTakeoverDeps {
  readonly log: SessionLog;
  readonly store: Store;
  /** The projection this takeover reads; it must have applied the log up to now before a query. */
  readonly projection: { waitCaughtUp(timeoutMs: number): Promise<boolean> };
  readonly logger: BusLogger;
  readonly now?: () => Date;
}

/** Snapshot-decide-publish rounds per session before it counts as too contended (the watcher retries). */
const MAX_ATTEMPTS = 8;
/** Sessions taken over at once: a gateway may have held thousands. */
const CONCURRENCY = 32;
const CATCH_UP_TIMEOUT_MS = 5000;

export class ProjectionBehindError extends Error {
  override readonly name = 'ProjectionBehindError';
  readonly code = 'HF_SESSION_STATE_PROJECTION_BEHIND';
}

/**
 * Takes over the sessions of a dead gateway (spec §7.14): every session the projection shows ACTIVE on
 * it is decided again on its log snapshot and moved on with a publish fenced on that snapshot, so a
 * resume that claimed it meanwhile (or another session-state instance doing the same) wins and this one
 * re-reads and leaves it.
 */
export class GatewayTakeover {
  private readonly now: () => Date;

  constructor(private readonly deps: GatewayTakeoverDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Throws when the projection could not catch up or a session could not be settled: retry later. */
  async takeOver(node: string): Promise<TakeoverReport> {
    if (!(await this.deps.projection.waitCaughtUp(CATCH_UP_TIMEOUT_MS))) {
      throw new ProjectionBehindError(`projection did not catch up within ${CATCH_UP_TIMEOUT_MS} ms`);
    }
    const sessions = await this.deps.store.run(SmSessions, 'find owner', (collection) =>
      collection
        .find({ owner: node, status: 'ACTIVE' }, { projection: { _id: 1 } })
        .map((document) => document._id)
        .toArray(),
    );
    const counts = { hibernated: 0, terminated: 0, left: 0 };
    for (let start = 0; start < sessions.length; start += CONCURRENCY) {
      const outcomes = await Promise.all(
        sessions.slice(start, start + CONCURRENCY).map((session) => this.takeOverSession(session, node)),
      );
      for (const outcome of outcomes) counts[outcome] += 1;
    }
    return { node, ...counts };
  }

  async takeOverSession(session: string, node: string): Promise<TakeoverOutcome> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const snapshot = await this.deps.log.snapshot(session);
      if (snapshot === undefined) return 'left';
      const decision = decideTakeover(snapshot, node, this.now());
      try {
        switch (decision.kind) {
          case 'leave':
            return 'left';
          case 'hibernate':
            await this.deps.log.publishFenced(
              SmHibernationStarted,
              decision.event,
              snapshot.record.seq,
              'f.state',
            );
            return 'hibernated';
          case 'terminate':
            // The §4 outcomes for its unacked stanzas are applied by the termination outcome service.
            await this.deps.log.publishFenced(
              SmSessionTerminated,
              decision.event,
              snapshot.record.seq,
              'f.state',
            );
            return 'terminated';
        }
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        this.deps.logger.debug({ session, node, attempt }, 'takeover lost a race; deciding again');
      }
    }
    throw new Error(`session ${session} too contended to take over from ${node}`);
  }
}

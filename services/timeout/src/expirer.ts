import { BusTimeoutError, NoRespondersError, type Bus, type BusLogger } from '@holdfast/bus';
import { SmTerminate } from '@holdfast/events';
import { forgetRecord, type SessionLog } from '@holdfast/session-log';

import type { PartitionTimers } from './partition-timers.js';
import type { Timer, TimerTable } from './timer-table.js';

/**
 * Terminations asked for at once per instance: enough that a gateway's next request is already waiting
 * when it answers one (its own limit bounds what it works on), few enough that each is answered well
 * within the request timeout.
 */
const CONCURRENCY = 128;
/** How often due timers are collected (ms); a freed slot also collects at once. */
const TICK_MS = 100;
const REQUEST_TIMEOUT_MS = 10_000;
/** After a failed request (no gateway answering, a timeout), the timer is tried again this much later. */
const RETRY_MS = 1000;

/**
 * Fires due hibernation timers (spec T9), and checks of recent terminations (`finish`: their §4 outcomes
 * carried out, exactly once, by any gateway): every tick, each loaded partition's due timers become
 * `sm.terminate` requests (kind `expired`, the timer's version), carried out by any gateway, which ends
 * the session only if that version still hibernates and its deadline has passed. `early` (the deadline
 * moved) re-arms at the deadline found; a failure retries later; `stale` and `terminated` settle. A due
 * h-record (`old_session_ttl_s`, §5) is deleted here, in the session log (`forgetRecord`, fenced).
 */
export class Expirer {
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private readonly firing = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly bus: Bus,
    private readonly log: SessionLog,
    private readonly timers: PartitionTimers,
    private readonly logger: BusLogger,
  ) {}

  start(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.allSettled([...this.firing]);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick();
      this.schedule();
    }, TICK_MS);
  }

  /**
   * Fires due timers earliest first across every loaded partition, as many as there are free slots;
   * the rest stay scheduled (in order) for the next tick or the next freed slot.
   */
  private tick(): void {
    if (this.stopped) return;
    const now = Date.now();
    while (this.inFlight < CONCURRENCY) {
      let earliest: TimerTable | undefined;
      let earliestDeadline = Number.POSITIVE_INFINITY;
      for (const table of this.timers.ready()) {
        const deadline = table.peek();
        if (deadline !== undefined && deadline <= now && deadline < earliestDeadline) {
          earliest = table;
          earliestDeadline = deadline;
        }
      }
      const timer = earliest?.due(now, 1)[0];
      if (earliest === undefined || timer === undefined) return;
      this.fire(earliest, timer);
    }
  }

  private fire(table: TimerTable, timer: Timer): void {
    this.inFlight += 1;
    const firing = (
      timer.kind === 'forget' ? this.forget(table, timer) : this.terminate(table, timer)
    ).finally(() => {
      this.inFlight -= 1;
      this.firing.delete(firing);
      // A freed slot takes the next due timer at once rather than at the next tick.
      this.tick();
    });
    this.firing.add(firing);
  }

  private async terminate(table: TimerTable, timer: Timer): Promise<void> {
    try {
      const request =
        timer.kind === 'finish'
          ? {
              session: timer.session,
              kind: timer.terminatedKind ?? 'closed',
              version: timer.version,
              finish: true as const,
            }
          : { session: timer.session, kind: 'expired' as const, version: timer.version };
      const reply = await this.bus.request(SmTerminate, request, {
        timeoutMs: REQUEST_TIMEOUT_MS,
      });
      if (reply.result === 'early') {
        table.rearm(timer, Date.parse(reply.deadline));
        return;
      }
      if (timer.kind === 'finish') table.settleFinished(timer);
      else table.settle(timer);
    } catch (error) {
      if (!(error instanceof NoRespondersError || error instanceof BusTimeoutError)) {
        this.logger.warn({ err: error, session: timer.session }, 'expiry failed; will retry');
      }
      table.rearm(timer, Date.now() + RETRY_MS);
    }
  }

  /** Deletes a kept h-record past `old_session_ttl_s`; a record already gone settles too. */
  private async forget(table: TimerTable, timer: Timer): Promise<void> {
    try {
      await forgetRecord(this.log, timer.session);
      table.settle(timer);
    } catch (error) {
      this.logger.warn({ err: error, session: timer.session }, 'h-record not deleted; will retry');
      table.rearm(timer, Date.now() + RETRY_MS);
    }
  }
}

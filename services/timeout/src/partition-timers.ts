import { DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import type { Bus, BusLogger } from '@holdfast/bus';
import { STREAMS, decodeEvent, type AnyEvent } from '@holdfast/events';
import { sessionStateOf } from '@holdfast/session-log';

import { TimerTable } from './timer-table.js';

/** The state lane of every session of one partition. */
export function stateLaneFilter(partition: number): string {
  return `hf.session.${partition}.*.f.state.>`;
}

interface Loaded {
  readonly table: TimerTable;
  readonly messages: ConsumerMessages;
  /** True once the partition's stored states are all in the table (timers may fire from then on). */
  readonly loaded: boolean;
  readonly done: Promise<void>;
}

/**
 * The timers of the partitions this instance holds, rebuilt from the session log itself: an ordered
 * consumer per partition over the `f.state` lane, delivering first the last event of each subject
 * (`last_per_subject`: each session's latest state per type, so its latest state overall), then every
 * new one. No timer is stored anywhere else, so nothing can disagree with the log: a deadline that
 * passed while every instance was down is found due at load.
 */
export class PartitionTimers {
  private readonly partitions = new Map<number, Loaded>();

  constructor(
    private readonly bus: Bus,
    private readonly logger: BusLogger,
    /** `old_session_ttl_s` in ms (0: none), for the h-record deletion timers. */
    private readonly recordTtlMs = 0,
  ) {}

  async load(partition: number): Promise<void> {
    if (this.partitions.has(partition)) return;
    const table = new TimerTable(this.recordTtlMs);
    const consumer = await this.bus.js.consumers.get(STREAMS.session.name, {
      filter_subjects: [stateLaneFilter(partition)],
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    const pending = (await consumer.info()).num_pending;
    const messages = await consumer.consume();
    const status = { loaded: pending === 0 };
    const done = (async () => {
      for await (const message of messages) {
        const event = decodeOrWarn(message.data, this.logger);
        const found = event === undefined ? undefined : sessionStateOf(event);
        if (event !== undefined && found !== undefined) {
          const termination =
            event.type === 'sm.session_terminated'
              ? { at: Date.parse(event.metadata.at), unacked: event.data.unacked, now: Date.now() }
              : undefined;
          table.observe(found.session, message.seq, found.state, termination);
        }
        if (message.info.pending === 0) status.loaded = true;
      }
    })();
    const entry: Loaded = {
      table,
      messages,
      get loaded() {
        return status.loaded;
      },
      done,
    };
    this.partitions.set(partition, entry);
  }

  async drop(partition: number): Promise<void> {
    const entry = this.partitions.get(partition);
    if (entry === undefined) return;
    this.partitions.delete(partition);
    await entry.messages.close();
    await entry.done.catch(() => undefined);
  }

  /** Tables of the partitions whose stored states are loaded. */
  *ready(): Generator<TimerTable> {
    for (const entry of this.partitions.values()) if (entry.loaded) yield entry.table;
  }

  async stop(): Promise<void> {
    for (const partition of [...this.partitions.keys()]) await this.drop(partition);
  }
}

function decodeOrWarn(data: Uint8Array, logger: BusLogger): AnyEvent | undefined {
  try {
    return decodeEvent(data);
  } catch (error) {
    logger.warn({ err: error }, 'undecodable state event skipped');
    return undefined;
  }
}

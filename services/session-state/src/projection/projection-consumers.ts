import type { Bus, BusLogger, Consumption } from '@holdfast/bus';
import { SESSION_PARTITIONS, STREAMS, type AnyEvent } from '@holdfast/events';

export interface ProjectionConsumersOptions {
  /** Durable consumer names are `<prefix>-p<partition>`; default `session-state`. */
  readonly durablePrefix?: string;
  readonly logger: BusLogger;
}

/** The fence lanes (`f.state`, `f.queue`) of every session of one partition. */
export function fenceLaneFilter(partition: number): string {
  return `hf.session.${partition}.*.f.>`;
}

const POLL_MS = 50;
const ACK_WAIT_MS = 5000;

/**
 * One durable consumer per session partition feeding the projector. `maxAckPending: 1` keeps each
 * partition strictly in order even when several session-state instances share the consumers (JetStream
 * hands the next event to whichever instance asks once the previous one is acknowledged), so the
 * projector's read-then-write per session never races itself; partitions run in parallel.
 */
export class ProjectionConsumers {
  private readonly consumptions: Consumption[] = [];

  constructor(
    private readonly bus: Bus,
    /**
     * Applies one event (the projector, then what follows it); resolves once it is durable. `forget` is
     * told when another instance may have applied events of a partition since this one's last.
     */
    private readonly projector: {
      readonly apply: (event: AnyEvent, seq: number) => Promise<void>;
      readonly forget: (partition: number) => void;
    },
    private readonly options: ProjectionConsumersOptions,
  ) {}

  durable(partition: number): string {
    return `${this.options.durablePrefix ?? 'session-state'}-p${partition}`;
  }

  async start(): Promise<void> {
    const lastDelivery = new Map<number, number>();
    for (let partition = 0; partition < SESSION_PARTITIONS; partition++) {
      this.consumptions.push(
        await this.bus.consume({
          stream: STREAMS.session.name,
          durable: this.durable(partition),
          filterSubjects: [fenceLaneFilter(partition)],
          maxAckPending: 1,
          // A crashed instance's event in hand goes to another one after this long.
          ackWaitMs: ACK_WAIT_MS,
          handler: (event, delivery) => {
            // Consecutive deliveries all came here; a gap (another instance, a redelivery after a
            // failed attempt, a consumer made again) may hide writes this instance did not make.
            const last = lastDelivery.get(partition);
            if (last === undefined || delivery.consumerSequence !== last + 1) {
              this.projector.forget(partition);
            }
            lastDelivery.set(partition, delivery.consumerSequence);
            return this.projector.apply(event, delivery.streamSequence);
          },
        }),
      );
    }
  }

  /** True when every partition's consumer has applied everything stored so far. */
  async caughtUp(): Promise<boolean> {
    for (let partition = 0; partition < SESSION_PARTITIONS; partition++) {
      const info = await this.bus.jsm.consumers.info(STREAMS.session.name, this.durable(partition));
      if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
    }
    return true;
  }

  /** Waits until `caughtUp`; false if that did not happen within `timeoutMs`. */
  async waitCaughtUp(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.caughtUp()) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async stop(): Promise<void> {
    const consumptions = this.consumptions.splice(0);
    const results = await Promise.allSettled(consumptions.map((consumption) => consumption.stop()));
    const failures = results.flatMap((result) =>
      result.status === 'rejected' ? [result.reason as unknown] : [],
    );
    if (failures.length > 0) throw new AggregateError(failures, 'projection consumers did not stop cleanly');
  }
}

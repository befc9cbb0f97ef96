import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { SpanKind, SpanStatusCode, context, metrics } from '@opentelemetry/api';
import { DecodeError, decodeEvent, type AnyEvent } from '@holdfast/events';

import type { BusLogger } from './logger.js';
import { extractContext, tracer } from './tracing.js';

export interface Delivery {
  readonly subject: string;
  readonly streamSequence: number;
  /** How many times JetStream delivered this event (1 = first time). */
  readonly deliveryCount: number;
  /**
   * The consumer's count of deliveries, redeliveries included: one more than the previous delivery this
   * process handled only if the consumer delivered nothing to anyone in between.
   */
  readonly consumerSequence: number;
}

export interface ConsumeOptions {
  /** Stream name (e.g. `STREAMS.session.name`). */
  readonly stream: string;
  /** Durable consumer name: the position survives restarts of the process. */
  readonly durable: string;
  readonly filterSubjects: readonly string[];
  readonly handler: (event: AnyEvent, delivery: Delivery) => Promise<void>;
  /** Unacknowledged events in flight before the server stops delivering (default 1000). */
  readonly maxAckPending?: number;
  /**
   * Redelivery after this long without an ack (default 30 s). While a handler runs the consumer reports
   * progress every half of it, so only a process that stopped answering loses its event.
   */
  readonly ackWaitMs?: number;
}

export interface Consumption {
  /** Stops fetching, lets the event in hand finish, and resolves when the loop has ended. */
  stop(): Promise<void>;
}

const meter = metrics.getMeter('@holdfast/bus');
const handlerFailures = meter.createCounter('holdfast.bus.handler_failures', {
  description: 'event handler attempts that threw (the event is retried in place)',
});
const poisonEvents = meter.createCounter('holdfast.bus.poison_events', {
  description: 'stored messages that do not decode as catalog events and were terminated',
});

const CONSUMER_EXISTS_WITH_OTHER_CONFIG = 10148;
const MAX_BACKOFF_MS = 5000;

/**
 * Consumes events in stream order, one at a time, from a durable pull consumer with explicit acks.
 * A handler that throws is retried in place with backoff (the ack deadline is extended meanwhile), so
 * events of one subject are never processed out of order; the handler must therefore be idempotent.
 * A message that is not a catalog event is terminated with an error log: retrying cannot fix it.
 */
export async function consume(
  js: JetStreamClient,
  jsm: JetStreamManager,
  logger: BusLogger,
  options: ConsumeOptions,
): Promise<Consumption> {
  const ackWaitMs = options.ackWaitMs ?? 30_000;
  const config: Partial<ConsumerConfig> & { durable_name: string } = {
    durable_name: options.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subjects: [...options.filterSubjects],
    max_ack_pending: options.maxAckPending ?? 1000,
    ack_wait: nanos(ackWaitMs),
  };
  try {
    await jsm.consumers.add(options.stream, config);
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || error.code !== CONSUMER_EXISTS_WITH_OTHER_CONFIG)
      throw error;
    await jsm.consumers.update(options.stream, options.durable, config);
  }
  const consumer = await js.consumers.get(options.stream, options.durable);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 256 });
  // Mutated by stop(); an object so that TypeScript does not narrow the flag inside the loops.
  const control: { stopping: boolean; wake?: () => void } = { stopping: false };
  const log = { stream: options.stream, durable: options.durable };

  const handle = async (msg: JsMsg): Promise<void> => {
    let event: AnyEvent;
    try {
      event = decodeEvent(msg.data);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      poisonEvents.add(1, { stream: options.stream });
      logger.error({ ...log, err: error, subject: msg.subject, seq: msg.seq }, 'poison event terminated');
      msg.term(error.code);
      return;
    }
    const delivery = {
      subject: msg.subject,
      streamSequence: msg.seq,
      deliveryCount: msg.info.deliveryCount,
      consumerSequence: msg.info.deliverySequence,
    };
    for (let attempt = 0; !control.stopping; attempt++) {
      const ok = await context.with(extractContext(msg.headers), () =>
        tracer.startActiveSpan(
          `process ${event.type}`,
          {
            kind: SpanKind.CONSUMER,
            attributes: {
              'messaging.system': 'nats',
              'messaging.operation.type': 'process',
              'messaging.destination.name': msg.subject,
              'messaging.message.id': event.metadata.id,
              'messaging.consumer.group.name': options.durable,
            },
          },
          async (span) => {
            // A slow handler keeps its event: it is redelivered only if this process stops answering.
            const alive = setInterval(() => {
              msg.working();
            }, ackWaitMs / 2);
            try {
              await options.handler(event, delivery);
              return true;
            } catch (error) {
              handlerFailures.add(1, { durable: options.durable, type: event.type });
              span.recordException(error as Error);
              span.setStatus({ code: SpanStatusCode.ERROR });
              logger.warn(
                { ...log, err: error, type: event.type, seq: msg.seq, attempt },
                'event handler failed; retrying',
              );
              return false;
            } finally {
              clearInterval(alive);
              span.end();
            }
          },
        ),
      );
      if (ok) {
        msg.ack();
        return;
      }
      msg.working();
      await new Promise<void>((resolve) => {
        control.wake = resolve;
        setTimeout(resolve, Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt));
      });
    }
    // Stopped while retrying: no ack, so JetStream redelivers the event to whoever consumes next.
  };

  const loop = (async () => {
    for await (const msg of messages) {
      if (control.stopping) break;
      await handle(msg);
    }
  })().catch((error: unknown) => {
    logger.error({ ...log, err: error }, 'consumer loop failed');
  });

  return {
    stop: async () => {
      control.stopping = true;
      control.wake?.();
      await messages.close();
      await loop;
    },
  };
}

import {
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type PubAck,
  type StreamConfig,
} from '@nats-io/jetstream';
import {
  NoRespondersError as NatsNoResponders,
  TimeoutError as NatsTimeout,
  headers as natsHeaders,
  nanos,
  type NatsConnection,
} from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { SpanKind, SpanStatusCode, context } from '@opentelemetry/api';
import {
  STREAMS,
  commandSubject,
  decodeReply,
  decodeRequest,
  encodeEvent,
  encodeReply,
  encodeRequest,
  type CommandDefinition,
  type EventDefinition,
  type StreamDeclaration,
} from '@holdfast/events';

import { consume, type ConsumeOptions, type Consumption } from './consume.js';
import { directBatch, type DirectBatchRequest, type DirectMessage } from './direct-get.js';
import { lastMessage, type StoredMessage } from './last-message.js';
import {
  BusTimeoutError,
  ConcurrencyConflictError,
  NoRespondersError,
  RemoteError,
  isWrongLastSequence,
} from './errors.js';
import type { BusLogger } from './logger.js';
import { extractContext, injectContext, tracer } from './tracing.js';

export interface BusOptions {
  readonly url: string;
  /** Connection name shown by the server, e.g. `gateway/gw-1`. */
  readonly name: string;
  /** This process's node id, written into every event's metadata. */
  readonly node: string;
  readonly logger: BusLogger;
}

export interface PublishOptions {
  /** Reject the publish unless the subject's last stream sequence is this (0 = no message yet). */
  readonly expectLastSubjectSequence?: number;
  /**
   * Check `expectLastSubjectSequence` against the last message matching this subject filter instead of
   * the published subject (a fence shared by several subjects; nats-server ≥ 2.11).
   */
  readonly expectLastSubjectSequenceSubject?: string;
  readonly timeoutMs?: number;
}

export interface Published {
  readonly stream: string;
  readonly seq: number;
  /** True when JetStream dropped the event as a repeat of an id it already stored. */
  readonly duplicate: boolean;
}

export interface OutgoingEvent<Data> {
  /** Deterministic id: a retried publish with the same id is stored once (`Nats-Msg-Id`). */
  readonly id: string;
  readonly data: Data;
  readonly at?: Date;
}

export interface ServeOptions {
  /** Queue group: each request reaches one member. Default: the command name. */
  readonly queue?: string;
  /** For a targeted command: the target this process answers for (e.g. its node id). */
  readonly target?: string;
}

export interface RequestOptions {
  readonly timeoutMs?: number;
  /** For a targeted command: the instance to ask. */
  readonly target?: string;
}

export interface Service {
  stop(): Promise<void>;
}

const SERVICE_ERROR = 'Nats-Service-Error';
const SERVICE_ERROR_CODE = 'Nats-Service-Error-Code';

/** The NATS connection of a process, with the catalog's streams, events and commands on top. */
export class Bus {
  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    private readonly options: BusOptions,
  ) {}

  /** Connects, and keeps reconnecting for as long as the process lives (services never give up on NATS). */
  static async connect(options: BusOptions): Promise<Bus> {
    const nc = await connect({
      servers: options.url,
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: true,
      // No stack captured per request (every JetStream publish is one): a tenth of a busy gateway's CPU.
      noAsyncTraces: true,
    });
    const bus = new Bus(nc, jetstream(nc), await jetstreamManager(nc), options);
    void bus.watchStatus();
    return bus;
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect') {
        this.options.logger.warn({ status: status.type, server: status.server }, `nats ${status.type}`);
      } else if (status.type === 'error') {
        this.options.logger.error({ err: status.error }, 'nats error');
      }
    }
  }

  /** Creates the catalog's streams, or updates them to the declared configuration. */
  async ensureStreams(
    streams: readonly StreamDeclaration[] = Object.values(STREAMS),
    { replicas = 1 }: { replicas?: number } = {},
  ): Promise<void> {
    for (const stream of streams) {
      const config: Partial<StreamConfig> & { name: string } = {
        name: stream.name,
        subjects: [...stream.subjects],
        description: stream.description,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        max_age: nanos(stream.maxAgeS * 1000),
        duplicate_window: nanos(stream.duplicateWindowS * 1000),
        num_replicas: replicas,
        // Session snapshots and queues are read with direct gets (last by subject, batches by filter).
        allow_direct: true,
      };
      try {
        await this.jsm.streams.add(config);
      } catch (error) {
        if (!(error instanceof JetStreamApiError) || error.code !== STREAM_NAME_IN_USE) throw error;
        await this.jsm.streams.update(stream.name, config);
      }
    }
  }

  /** A batch direct get on `stream` (see directBatch): every message of the batch, in stream order. */
  async directBatch(
    stream: string,
    request: DirectBatchRequest,
    { timeoutMs = 5000 }: { timeoutMs?: number } = {},
  ): Promise<DirectMessage[]> {
    return directBatch(this.nc, stream, request, timeoutMs);
  }

  /** The last message of `stream` on a subject matching `filter`, read from its leader (see lastMessage). */
  async lastMessage(
    stream: string,
    filter: string,
    { timeoutMs = 5000 }: { timeoutMs?: number } = {},
  ): Promise<StoredMessage | undefined> {
    return lastMessage(this.nc, stream, filter, timeoutMs);
  }

  /** Publishes one event and waits until JetStream stored it (durable) or dropped it as a duplicate. */
  async publish<Type extends string, Data>(
    definition: EventDefinition<Type, Data>,
    event: OutgoingEvent<Data>,
    options: PublishOptions = {},
  ): Promise<Published> {
    const subject = definition.subject(event.data);
    const payload = encodeEvent(definition, {
      data: event.data,
      metadata: { id: event.id, at: (event.at ?? new Date()).toISOString(), node: this.options.node },
    });
    // Span names use the event type, not the subject: subjects carry session ids (unbounded cardinality).
    return tracer.startActiveSpan(
      `publish ${definition.type}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation.type': 'send',
          'messaging.destination.name': subject,
          'messaging.message.id': event.id,
        },
      },
      async (span) => {
        try {
          const headers = natsHeaders();
          injectContext(headers);
          let ack: PubAck;
          try {
            ack = await this.js.publish(subject, payload, {
              msgID: event.id,
              headers,
              ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
              ...(options.expectLastSubjectSequence === undefined
                ? {}
                : {
                    expect: {
                      lastSubjectSequence: options.expectLastSubjectSequence,
                      ...(options.expectLastSubjectSequenceSubject === undefined
                        ? {}
                        : { lastSubjectSequenceSubject: options.expectLastSubjectSequenceSubject }),
                    },
                  }),
            });
          } catch (error) {
            throw mapPublishError(error, subject, options.expectLastSubjectSequence);
          }
          span.setAttribute('messaging.nats.stream_sequence', ack.seq);
          return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
        } catch (error) {
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }

  /** Durable, ordered consumption of events; see `consume`. */
  consume(options: ConsumeOptions): Promise<Consumption> {
    return consume(this.js, this.jsm, this.options.logger, options);
  }

  /** Sends a command and waits for its reply. */
  async request<Request, Reply>(
    command: CommandDefinition<string, Request, Reply>,
    request: Request,
    { timeoutMs = 1000, target }: RequestOptions = {},
  ): Promise<Reply> {
    const subject = commandSubject(command, target);
    return tracer.startActiveSpan(
      `send ${command.name}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject },
      },
      async (span) => {
        try {
          const headers = natsHeaders();
          injectContext(headers);
          let reply;
          try {
            reply = await this.nc.request(subject, encodeRequest(command, request), {
              timeout: timeoutMs,
              headers,
            });
          } catch (error) {
            if (error instanceof NatsNoResponders || hasCause(error, NatsNoResponders)) {
              throw new NoRespondersError(subject, { cause: error });
            }
            if (error instanceof NatsTimeout || hasCause(error, NatsTimeout)) {
              throw new BusTimeoutError(subject, { cause: error });
            }
            throw error;
          }
          const remoteCode = reply.headers?.get(SERVICE_ERROR_CODE);
          if (remoteCode) {
            throw new RemoteError(subject, remoteCode, reply.headers?.get(SERVICE_ERROR) ?? '');
          }
          return decodeReply(command, reply.data);
        } catch (error) {
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }

  /**
   * Answers a command. A request that does not decode, or a handler that throws, gets an error reply
   * (`Nats-Service-Error-Code` 400 or 500) so the requester fails fast instead of timing out.
   */
  serve<Request, Reply>(
    command: CommandDefinition<string, Request, Reply>,
    handler: (request: Request) => Promise<Reply>,
    options: ServeOptions = {},
  ): Service {
    const logger = this.options.logger;
    const subject = commandSubject(command, options.target);
    const subscription = this.nc.subscribe(subject, {
      queue: options.queue ?? command.name,
      callback: (error, msg) => {
        if (error) {
          logger.error({ err: error, subject }, 'subscription failed');
          return;
        }
        const parent = extractContext(msg.headers);
        void context.with(parent, () =>
          tracer.startActiveSpan(
            `process ${command.name}`,
            {
              kind: SpanKind.CONSUMER,
              attributes: { 'messaging.system': 'nats', 'messaging.destination.name': msg.subject },
            },
            async (span) => {
              const fail = (code: '400' | '500', description: string): void => {
                const headers = natsHeaders();
                headers.set(SERVICE_ERROR_CODE, code);
                headers.set(SERVICE_ERROR, description);
                msg.respond(undefined, { headers });
                span.setStatus({ code: SpanStatusCode.ERROR, message: description });
              };
              try {
                let request: Request;
                try {
                  request = decodeRequest(command, msg.data);
                } catch (decodeError) {
                  logger.warn({ err: decodeError, subject: msg.subject }, 'undecodable request');
                  fail('400', (decodeError as Error).message);
                  return;
                }
                try {
                  msg.respond(encodeReply(command, await handler(request)));
                } catch (handlerError) {
                  logger.error({ err: handlerError, subject: msg.subject }, 'request handler failed');
                  span.recordException(handlerError as Error);
                  fail('500', (handlerError as Error).message);
                }
              } finally {
                span.end();
              }
            },
          ),
        );
      },
    });
    return {
      stop: async () => {
        await subscription.drain();
      },
    };
  }

  /** Finishes in-flight work and closes the connection. */
  async drain(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.drain();
  }
}

const STREAM_NAME_IN_USE = 10058;

function hasCause(error: unknown, type: new (...args: never[]) => Error): boolean {
  return error instanceof Error && error.cause instanceof type;
}

function mapPublishError(error: unknown, subject: string, expected: number | undefined): unknown {
  if (isWrongLastSequence(error) && expected !== undefined) {
    return new ConcurrencyConflictError(subject, expected, { cause: error });
  }
  if (error instanceof NatsNoResponders || hasCause(error, NatsNoResponders)) {
    return new NoRespondersError(subject, { cause: error });
  }
  if (error instanceof NatsTimeout || hasCause(error, NatsTimeout)) {
    return new BusTimeoutError(`publish ${subject}`, { cause: error });
  }
  return error;
}

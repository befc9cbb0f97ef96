import type { z } from 'zod';

import { EVENT_DEFINITIONS } from './catalog.js';
import type { CommandDefinition, EventDefinition } from './definition.js';

export interface EventMetadata {
  /** Deterministic id (e.g. `<session>.out.<seq>`); the bus sends it as `Nats-Msg-Id` for dedupe. */
  readonly id: string;
  readonly version: number;
  /** ISO-8601 UTC time the producer created the event. */
  readonly at: string;
  /** The producing process (config `node_id`). */
  readonly node: string;
}

export interface Event<Type extends string, Data> {
  readonly type: Type;
  readonly data: Data;
  readonly metadata: EventMetadata;
}

type Definitions = (typeof EVENT_DEFINITIONS)[number];
export type EventType = Definitions['type'];
export type DataOf<D> = D extends EventDefinition<string, infer Data> ? Data : never;
/** Every catalog event, discriminated on `type`. */
export type AnyEvent = { [D in Definitions as D['type']]: Event<D['type'], DataOf<D>> }[EventType];
export type EventOf<T extends EventType> = Extract<AnyEvent, { type: T }>;

export type DecodeErrorCode =
  | 'HF_EVENT_NOT_JSON'
  | 'HF_EVENT_UNKNOWN_TYPE'
  | 'HF_EVENT_FROM_FUTURE'
  | 'HF_EVENT_INVALID'
  | 'HF_MESSAGE_INVALID';

/** A message that cannot become a catalog event or command: poison, never retried. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly code: DecodeErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const byType = new Map<string, EventDefinition>(
  EVENT_DEFINITIONS.map((definition) => [definition.type, definition as EventDefinition]),
);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new DecodeError('HF_EVENT_NOT_JSON', `${what} is not JSON`, { cause });
  }
}

function check<T>(schema: z.ZodType<T>, value: unknown, code: DecodeErrorCode, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new DecodeError(code, `${what}: ${issues.join('; ')}`);
  }
  return result.data;
}

/** Serializes an event; the payload is validated first, so a producer can never emit an invalid event. */
export function encodeEvent<Type extends string, Data>(
  definition: EventDefinition<Type, Data>,
  event: { readonly data: Data; readonly metadata: Omit<EventMetadata, 'version'> },
): Uint8Array {
  const data = check(definition.schema, event.data, 'HF_EVENT_INVALID', definition.type);
  const { id, at, node } = event.metadata;
  return encoder.encode(
    JSON.stringify({ type: definition.type, version: definition.version, id, at, node, data }),
  );
}

interface WireEvent {
  type: string;
  version: number;
  id: string;
  at: string;
  node: string;
  data: unknown;
}

function isWireEvent(value: unknown): value is WireEvent {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.type === 'string' &&
    Number.isInteger(v.version) &&
    typeof v.id === 'string' &&
    typeof v.at === 'string' &&
    typeof v.node === 'string' &&
    'data' in v
  );
}

/** Parses, upcasts and validates a stored event into the current version of its catalog type. */
export function decodeEvent(bytes: Uint8Array): AnyEvent {
  const wire = parseJson(bytes, 'event');
  if (!isWireEvent(wire)) throw new DecodeError('HF_EVENT_INVALID', 'event envelope is incomplete');
  const definition = byType.get(wire.type);
  if (definition === undefined)
    throw new DecodeError('HF_EVENT_UNKNOWN_TYPE', `unknown event type ${wire.type}`);
  if (wire.version > definition.version || wire.version < 1) {
    throw new DecodeError(
      'HF_EVENT_FROM_FUTURE',
      `${wire.type} v${wire.version} is not known here (current v${definition.version})`,
    );
  }
  let data = wire.data;
  for (let version = wire.version; version < definition.version; version++) {
    const upcast = definition.upcasters[version];
    if (upcast === undefined) {
      throw new DecodeError('HF_EVENT_INVALID', `${wire.type}: no upcaster from v${version}`);
    }
    data = upcast(data);
  }
  return {
    type: wire.type,
    data: check(definition.schema, data, 'HF_EVENT_INVALID', wire.type),
    metadata: { id: wire.id, version: definition.version, at: wire.at, node: wire.node },
  } as AnyEvent;
}

export function encodeRequest<Req, Rep>(
  command: CommandDefinition<string, Req, Rep>,
  request: Req,
): Uint8Array {
  return encoder.encode(JSON.stringify(check(command.request, request, 'HF_MESSAGE_INVALID', command.name)));
}

export function decodeRequest<Req, Rep>(
  command: CommandDefinition<string, Req, Rep>,
  bytes: Uint8Array,
): Req {
  return check(
    command.request,
    parseJson(bytes, command.name),
    'HF_MESSAGE_INVALID',
    `${command.name} request`,
  );
}

export function encodeReply<Req, Rep>(command: CommandDefinition<string, Req, Rep>, reply: Rep): Uint8Array {
  return encoder.encode(JSON.stringify(check(command.reply, reply, 'HF_MESSAGE_INVALID', command.name)));
}

export function decodeReply<Req, Rep>(command: CommandDefinition<string, Req, Rep>, bytes: Uint8Array): Rep {
  return check(command.reply, parseJson(bytes, command.name), 'HF_MESSAGE_INVALID', `${command.name} reply`);
}

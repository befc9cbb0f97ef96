import type { z } from 'zod';

import type { StreamKey } from './streams.js';
import { encodeToken } from './subject-token.js';

/** Turns the payload of version `n` into the payload of version `n + 1`. */
export type Upcaster = (data: unknown) => unknown;

/**
 * One event type in the catalog. `version` is the current payload version; older payloads found in a
 * stream are lifted by `upcasters[n]` (n → n + 1) before validation, so a changed schema never means an
 * in-place edit of what is already stored.
 */
export interface EventDefinition<Type extends string = string, Data = unknown> {
  readonly kind: 'event';
  readonly type: Type;
  readonly version: number;
  readonly stream: StreamKey;
  readonly schema: z.ZodType<Data>;
  /** The subject an event is published on, derived from its payload (its aggregate key). */
  readonly subject: (data: Data) => string;
  readonly upcasters: Readonly<Record<number, Upcaster>>;
}

export function defineEvent<const Type extends string, Data>(definition: {
  type: Type;
  version: number;
  stream: StreamKey;
  schema: z.ZodType<Data>;
  subject: (data: Data) => string;
  upcasters?: Readonly<Record<number, Upcaster>>;
}): EventDefinition<Type, Data> {
  return { kind: 'event', upcasters: {}, ...definition };
}

/**
 * A request/reply command over core NATS (not stored): subject, request and reply schemas. A targeted
 * command is addressed to one instance (e.g. the gateway holding a session): its subject gets the
 * encoded target as a last token.
 */
export interface CommandDefinition<Name extends string = string, Request = unknown, Reply = unknown> {
  readonly kind: 'command';
  readonly name: Name;
  readonly subject: string;
  readonly targeted: boolean;
  readonly request: z.ZodType<Request>;
  readonly reply: z.ZodType<Reply>;
}

export function defineCommand<const Name extends string, Request, Reply>(definition: {
  name: Name;
  request: z.ZodType<Request>;
  reply: z.ZodType<Reply>;
  targeted?: boolean;
}): CommandDefinition<Name, Request, Reply> {
  return { kind: 'command', subject: `hf.cmd.${definition.name}`, targeted: false, ...definition };
}

/** The subject a command is sent on: its own, or for a targeted command, the target's. */
export function commandSubject(command: CommandDefinition, target: string | undefined): string {
  if (command.targeted !== (target !== undefined)) {
    throw new Error(`${command.name}: ${command.targeted ? 'needs' : 'takes no'} target`);
  }
  return target === undefined ? command.subject : `${command.subject}.${encodeToken(target)}`;
}

/** The request payload of a command. */
export type RequestOf<C> = C extends CommandDefinition<string, infer Request> ? Request : never;
/** The reply payload of a command. */
export type ReplyOf<C> = C extends CommandDefinition<string, unknown, infer Reply> ? Reply : never;

import { NoRespondersError as NatsNoResponders, type NatsConnection } from '@nats-io/nats-core';

import { BusError, BusTimeoutError, NoRespondersError } from './errors.js';

/** One stored message as `STREAM.MSG.GET` returns it. */
export interface StoredMessage {
  readonly subject: string;
  /** Stream sequence. */
  readonly seq: number;
  readonly data: Uint8Array;
}

/** JetStream's API error code for "no message found". */
const NO_MESSAGE = 10037;

interface MsgGetReply {
  readonly message?: { readonly subject: string; readonly seq: number; readonly data?: string };
  readonly error?: { readonly code: number; readonly err_code?: number; readonly description?: string };
}

/**
 * The last message of `stream` on a subject matching `filter`, or undefined if there is none. Read from the
 * stream's leader (`STREAM.MSG.GET`, so a write acknowledged before is seen, which a direct get from a
 * replica does not promise), through the connection's shared reply inbox. Why not the JetStream client's
 * `getMessage`: each request it makes builds an Error with a stack trace when it completes, and "no message"
 * comes back as a thrown one; under the expiry bench such errors, from all of the gateway's requests, were
 * a fifth of its busy time.
 */
export async function lastMessage(
  nc: NatsConnection,
  stream: string,
  filter: string,
  timeoutMs: number,
): Promise<StoredMessage | undefined> {
  const subject = `$JS.API.STREAM.MSG.GET.${stream}`;
  try {
    const replies = await nc.requestMany(subject, JSON.stringify({ last_by_subj: filter }), {
      strategy: 'count',
      maxMessages: 1,
      maxWait: timeoutMs,
    });
    for await (const reply of replies) {
      const { message, error } = reply.json<MsgGetReply>();
      if (error?.err_code === NO_MESSAGE) return undefined;
      if (error !== undefined || message === undefined) {
        throw new BusError(
          'HF_BUS_UNAVAILABLE',
          `${subject}: ${error?.code ?? 'no message'} ${error?.description ?? 'in the reply'}`,
        );
      }
      return {
        subject: message.subject,
        seq: message.seq,
        data: Buffer.from(message.data ?? '', 'base64'),
      };
    }
  } catch (error) {
    // No stream of that name (or JetStream is not running): the request mux reports a 503 status.
    if (error instanceof NatsNoResponders) throw new NoRespondersError(subject, { cause: error });
    throw error;
  }
  throw new BusTimeoutError(subject);
}

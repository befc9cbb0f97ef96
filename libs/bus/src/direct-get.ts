import {
  NoRespondersError as NatsNoResponders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
} from '@nats-io/nats-core';

import { BusError, BusTimeoutError, NoRespondersError } from './errors.js';

/** One stored message as a batch direct get returns it. */
export interface DirectMessage {
  readonly subject: string;
  /** Stream sequence. */
  readonly seq: number;
  readonly data: Uint8Array;
  /** The stored message's own headers (e.g. `KV-Operation`) with the server's `Nats-*` ones. */
  readonly headers: MsgHdrs;
}

/** A batch direct get (nats-server ≥ 2.11): a page from a sequence, or the last message of each subject. */
export type DirectBatchRequest =
  | { readonly seq: number; readonly next_by_subj: string; readonly batch: number }
  | { readonly multi_last: readonly string[] };

const SUBJECT = 'Nats-Subject';
const SEQUENCE = 'Nats-Sequence';
/** Status of the message that ends a batch: "EOB", or "no results" when nothing matched. */
const END_OF_BATCH = 204;
const NO_RESULTS = 404;

/**
 * Runs a batch direct get through the connection's shared reply inbox (`requestMany` on the request mux)
 * rather than a subscription made and dropped per call, as the JetStream client's `getBatch` does: a
 * busy gateway reads a session's log several times per termination, and every subscription is two more
 * protocol messages and a change to the server's subscription table. Resolves with every message of the
 * batch once its end (a status message) arrives; a batch not ended within `timeoutMs` is a timeout, not a
 * short answer.
 */
export async function directBatch(
  nc: NatsConnection,
  stream: string,
  request: DirectBatchRequest,
  timeoutMs: number,
): Promise<DirectMessage[]> {
  const subject = `$JS.API.DIRECT.GET.${stream}`;
  // Not the `sentinel` strategy: a stored message may be empty too (a KV purge marker).
  const replies = await nc.requestMany(subject, JSON.stringify(request), {
    strategy: 'timer',
    maxWait: timeoutMs,
  });
  const found: DirectMessage[] = [];
  try {
    for await (const reply of replies) {
      const status = statusOf(reply);
      // Leaving the loop ends the request (its place in the mux is freed at once).
      if (status === END_OF_BATCH || status === NO_RESULTS) return found;
      if (status !== 0 || reply.headers === undefined) {
        throw new BusError(
          'HF_BUS_UNAVAILABLE',
          `${subject}: ${status} ${reply.headers?.description ?? 'reply without headers'}`,
        );
      }
      found.push({
        subject: reply.headers.get(SUBJECT),
        seq: Number(reply.headers.get(SEQUENCE)),
        data: reply.data,
        headers: reply.headers,
      });
    }
  } catch (error) {
    // No stream of that name (or JetStream is not running): the request mux reports a 503 status.
    if (error instanceof NatsNoResponders) throw new NoRespondersError(subject, { cause: error });
    throw error;
  }
  // The iterator ends on its own only when `maxWait` ran out before the batch's end.
  throw new BusTimeoutError(subject);
}

/** The status code of a reply (0 for a stored message, which carries headers but no status). */
function statusOf(reply: Msg): number {
  const headers = reply.headers;
  if (headers === undefined || reply.data.length > 0) return 0;
  return headers.code;
}

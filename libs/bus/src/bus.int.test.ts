import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GatewayDeliver,
  STREAMS,
  SmAcked,
  SmSetHibernationDeadline,
  sessionFilter,
  type AnyEvent,
} from '@holdfast/events';
import { eventually, recordingLogger, testInfrastructure, uniqueId } from '@holdfast/testing';

import { Bus } from './bus.js';
import type { Delivery } from './consume.js';
import { BusTimeoutError, ConcurrencyConflictError, NoRespondersError, RemoteError } from './errors.js';

const logger = recordingLogger();
let bus: Bus;

beforeAll(async () => {
  bus = await Bus.connect({ url: testInfrastructure().natsUrl, name: 'bus-test', node: 'test-node', logger });
  await bus.ensureStreams();
});

afterAll(async () => {
  await bus.drain();
});

/** Collects what a fresh durable consumer of `filters` sees. */
async function collect(filters: string[], handler?: (event: AnyEvent, delivery: Delivery) => Promise<void>) {
  const seen: { event: AnyEvent; delivery: Delivery }[] = [];
  const consumption = await bus.consume({
    stream: STREAMS.session.name,
    durable: uniqueId('c'),
    filterSubjects: filters,
    handler: async (event, delivery) => {
      await handler?.(event, delivery);
      seen.push({ event, delivery });
    },
  });
  return { seen, consumption };
}

describe('publish and consume', () => {
  it('stores an event once per id (Nats-Msg-Id dedupe) and delivers it once', async () => {
    const session = uniqueId('s');
    const first = await bus.publish(SmAcked, { id: `${session}.ack.1`, data: { session, acked: 1 } });
    const again = await bus.publish(SmAcked, { id: `${session}.ack.1`, data: { session, acked: 1 } });
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ stream: 'HF_SESSION', seq: first.seq, duplicate: true });

    const { seen, consumption } = await collect([sessionFilter(session)]);
    await eventually(() => (seen.length === 1 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await consumption.stop();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.event).toMatchObject({
      type: 'sm.acked',
      data: { session, acked: 1 },
      metadata: { id: `${session}.ack.1`, node: 'test-node', version: 1 },
    });
  });

  it('keeps per-session order across interleaved pipelined publishes, also when a handler fails', async () => {
    const sessions = [uniqueId('s'), uniqueId('s'), uniqueId('s'), uniqueId('s')];
    const perSession = 50;
    await Promise.all(
      Array.from({ length: perSession * sessions.length }, (_, i) => {
        const session = sessions[i % sessions.length] ?? '';
        const acked = Math.floor(i / sessions.length);
        return bus.publish(SmAcked, { id: `${session}.ack.${acked}`, data: { session, acked } });
      }),
    );
    let failures = 0;
    const { seen, consumption } = await collect(sessions.map(sessionFilter), (event) => {
      if (event.type === 'sm.acked' && event.data.acked === 20 && failures < 2) {
        failures++;
        return Promise.reject(new Error('projection store briefly unavailable'));
      }
      return Promise.resolve();
    });
    await eventually(() => (seen.length === perSession * sessions.length ? true : undefined), {
      timeoutMs: 10_000,
    });
    await consumption.stop();

    expect(failures).toBe(2);
    for (const session of sessions) {
      const acks = seen.flatMap(({ event }) =>
        event.type === 'sm.acked' && event.data.session === session ? [event.data.acked] : [],
      );
      expect(acks).toEqual(Array.from({ length: perSession }, (_, i) => i));
    }
    expect(logger.records.filter((r) => r.message === 'event handler failed; retrying')).toHaveLength(2);
  });

  it('resumes a durable consumer where it stopped', async () => {
    const session = uniqueId('s');
    const durable = uniqueId('d');
    const run = async (expected: number) => {
      const acks: number[] = [];
      const consumption = await bus.consume({
        stream: STREAMS.session.name,
        durable,
        filterSubjects: [sessionFilter(session)],
        handler: (event) => {
          if (event.type === 'sm.acked') acks.push(event.data.acked);
          return Promise.resolve();
        },
      });
      await eventually(() => (acks.length === expected ? true : undefined));
      await consumption.stop();
      return acks;
    };
    for (const acked of [1, 2])
      await bus.publish(SmAcked, { id: `${session}.${acked}`, data: { session, acked } });
    expect(await run(2)).toEqual([1, 2]);
    for (const acked of [3, 4])
      await bus.publish(SmAcked, { id: `${session}.${acked}`, data: { session, acked } });
    expect(await run(2)).toEqual([3, 4]);
  });

  it('terminates a message that is not a catalog event and goes on with the next', async () => {
    const session = uniqueId('s');
    const subject = SmAcked.subject({ session, acked: 0 });
    await bus.js.publish(subject, new TextEncoder().encode('<not-json/>'));
    await bus.publish(SmAcked, { id: `${session}.after`, data: { session, acked: 7 } });
    const { seen, consumption } = await collect([sessionFilter(session)]);
    await eventually(() => (seen.length === 1 ? true : undefined));
    await consumption.stop();
    expect(seen[0]?.event.data).toEqual({ session, acked: 7 });
    expect(logger.records.some((r) => r.message === 'poison event terminated')).toBe(true);
  });
});

describe('optimistic concurrency', () => {
  it('rejects a publish whose expected last subject sequence is stale', async () => {
    const session = uniqueId('s');
    const first = await bus.publish(
      SmAcked,
      { id: `${session}.a`, data: { session, acked: 1 } },
      { expectLastSubjectSequence: 0 },
    );
    await expect(
      bus.publish(
        SmAcked,
        { id: `${session}.b`, data: { session, acked: 2 } },
        { expectLastSubjectSequence: 0 },
      ),
    ).rejects.toBeInstanceOf(ConcurrencyConflictError);
    const second = await bus.publish(
      SmAcked,
      { id: `${session}.c`, data: { session, acked: 2 } },
      { expectLastSubjectSequence: first.seq },
    );
    expect(second.seq).toBeGreaterThan(first.seq);
  });
});

describe('request/reply', () => {
  const request = { session: 'sess-0001', deadline: '2026-11-21T10:05:00.000Z' };

  it('answers a command through a queue group', async () => {
    const service = bus.serve(SmSetHibernationDeadline, (req) =>
      Promise.resolve({ ok: true, deadline: req.deadline }),
    );
    try {
      await expect(bus.request(SmSetHibernationDeadline, request)).resolves.toEqual({
        ok: true,
        deadline: request.deadline,
      });
    } finally {
      await service.stop();
    }
  });

  it('fails fast with typed errors: no responders, handler failure, bad request, timeout', async () => {
    await expect(bus.request(SmSetHibernationDeadline, request)).rejects.toBeInstanceOf(NoRespondersError);

    const failing = bus.serve(SmSetHibernationDeadline, () => Promise.reject(new Error('store down')));
    try {
      const failure: unknown = await bus
        .request(SmSetHibernationDeadline, request)
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(RemoteError);
      expect((failure as RemoteError).remoteCode).toBe('500');
      const raw = await bus.nc.request(SmSetHibernationDeadline.subject, new TextEncoder().encode('{"x":1}'));
      expect(raw.headers?.get('Nats-Service-Error-Code')).toBe('400');
    } finally {
      await failing.stop();
    }

    const slow = bus.serve(SmSetHibernationDeadline, async (req) => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      return { ok: true as const, deadline: req.deadline };
    });
    try {
      await expect(bus.request(SmSetHibernationDeadline, request, { timeoutMs: 100 })).rejects.toBeInstanceOf(
        BusTimeoutError,
      );
    } finally {
      await slow.stop();
    }
  });

  it('addresses a targeted command to one instance', async () => {
    const seen: string[] = [];
    const services = ['gw-a', 'gw-b'].map((target) =>
      bus.serve(
        GatewayDeliver,
        (req) => {
          seen.push(`${target}:${req.to}`);
          return Promise.resolve({ delivered: true });
        },
        { target },
      ),
    );
    try {
      const stanza = "<message to='b@x/r'/>";
      await expect(bus.request(GatewayDeliver, { to: 'b@x/r', stanza }, { target: 'gw-b' })).resolves.toEqual(
        {
          delivered: true,
        },
      );
      expect(seen).toEqual(['gw-b:b@x/r']);
      await expect(
        bus.request(GatewayDeliver, { to: 'b@x/r', stanza }, { target: 'gw-c' }),
      ).rejects.toBeInstanceOf(NoRespondersError);
      await expect(bus.request(GatewayDeliver, { to: 'b@x/r', stanza })).rejects.toThrow('needs target');
    } finally {
      await Promise.all(services.map((service) => service.stop()));
    }
  });
});

describe('batch direct gets', () => {
  it('pages a filter from a sequence, reads the last message of each subject, and ends on no results', async () => {
    const session = uniqueId('s');
    const seqs: number[] = [];
    for (let acked = 1; acked <= 5; acked++) {
      seqs.push(
        (await bus.publish(SmAcked, { id: `${session}.ack.${acked}`, data: { session, acked } })).seq,
      );
    }
    const first = seqs[0] ?? 0;
    const page = await bus.directBatch(STREAMS.session.name, {
      seq: first + 1,
      next_by_subj: sessionFilter(session),
      batch: 3,
    });
    expect(page.map((message) => message.seq)).toEqual(seqs.slice(1, 4));
    expect(new Set(page.map((message) => message.subject))).toEqual(
      new Set([SmAcked.subject({ session, acked: 1 })]),
    );

    const lasts = await bus.directBatch(STREAMS.session.name, { multi_last: [sessionFilter(session)] });
    expect(lasts.map((message) => message.seq)).toEqual([seqs[4]]);
    expect(JSON.parse(new TextDecoder().decode(lasts[0]?.data))).toMatchObject({ data: { acked: 5 } });

    const none = await bus.directBatch(STREAMS.session.name, {
      seq: first,
      next_by_subj: sessionFilter(uniqueId('nobody')),
      batch: 3,
    });
    expect(none).toEqual([]);
  });

  it('refuses a stream that does not exist, instead of answering nothing', async () => {
    await expect(
      bus.directBatch('HF_NO_SUCH_STREAM', { multi_last: ['x.>'] }, { timeoutMs: 500 }),
    ).rejects.toBeInstanceOf(NoRespondersError);
  });
});

describe('last message by subject from the leader', () => {
  it('reads the newest message matching a filter, and nothing for a filter no message matches', async () => {
    const session = uniqueId('s');
    let newest = 0;
    for (let acked = 1; acked <= 3; acked++) {
      newest = (await bus.publish(SmAcked, { id: `${session}.ack.${acked}`, data: { session, acked } })).seq;
    }
    const last = await bus.lastMessage(STREAMS.session.name, sessionFilter(session));
    expect(last).toMatchObject({ seq: newest, subject: SmAcked.subject({ session, acked: 3 }) });
    expect(JSON.parse(new TextDecoder().decode(last?.data))).toMatchObject({ data: { acked: 3 } });
    expect(await bus.lastMessage(STREAMS.session.name, sessionFilter(uniqueId('nobody')))).toBeUndefined();
  });

  it('refuses a stream that does not exist with JetStream’s own answer', async () => {
    await expect(bus.lastMessage('HF_NO_SUCH_STREAM', 'x.>', { timeoutMs: 500 })).rejects.toThrow(
      /stream not found/,
    );
  });
});

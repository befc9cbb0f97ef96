import { Bus } from '@holdfast/bus';
import { SessionLog } from '@holdfast/session-log';
import { STREAMS, decodeEvent, partitionOf, sessionFilter } from '@holdfast/events';
import { recordingLogger, uniqueId } from '@holdfast/testing';
import { xml } from '@holdfast/xmpp';
import { DeliverPolicy } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Test support of the gateway package (not part of its build): the scripted SM client.
import { SmClient } from '../services/gateway/src/testing/sm-client.js';
import {
  privateNats,
  type ServiceProcess,
  startGateway,
  startService,
  usersCli,
  processEnv,
} from './support/processes.js';

/**
 * Issue 5's crash test: the timeout service is SIGKILLed while hibernation deadlines are due and
 * restarted; every due session expires exactly once and every queued stanza gets exactly one outcome.
 * With two timeout instances running, no timer fires twice (one `sm.terminate` request per session).
 */
const HIBERNATION_S = 4;
const env = processEnv('tcrash', {
  SM_HIBERNATION_TIME_S: String(HIBERNATION_S),
  SM_MAX_HIBERNATED_SESSIONS: '10',
  TIMEOUT_LEASE_MS: '1500',
});
const SESSIONS = 6;
const QUEUED = 2;
const timeoutNodes = [uniqueId('timeout-a-'), uniqueId('timeout-b-')];

let gateway: (ServiceProcess & { port: number }) | undefined;
let sessionState: ServiceProcess | undefined;
const timeouts = new Map<string, ServiceProcess>();
const clients: SmClient[] = [];
let bus: Bus | undefined;

const startTimeout = async (node: string): Promise<void> => {
  timeouts.set(node, await startService('timeout', { ...env, NODE_ID: node }, 'timeout ready'));
};

let nats: Awaited<ReturnType<typeof privateNats>> | undefined;

beforeAll(async () => {
  nats = await privateNats();
  env.NATS_URL = nats.url;
  await usersCli(env, 'add', 'tsender', 'pw');
  for (let index = 0; index < 2 * SESSIONS; index++) await usersCli(env, 'add', `trcv${index}`, 'pw');
  sessionState = await startService('session-state', env, 'session-state ready');
  gateway = await startGateway(env, uniqueId('tgw-'));
  for (const node of timeoutNodes) await startTimeout(node);
  bus = await Bus.connect({
    url: env.NATS_URL,
    name: 'timeout-crash-test',
    node: 'test',
    logger: recordingLogger(),
  });
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.kill();
  for (const timeout of timeouts.values()) timeout.child.kill('SIGKILL');
  gateway?.child.kill('SIGKILL');
  sessionState?.child.kill('SIGKILL');
  await bus?.drain();
  await nats?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `count` receivers with resumable SM sessions, each sent QUEUED chat messages it never acknowledges,
 * then killed (transport loss: they hibernate). Returns their session ids.
 */
async function hibernatingSessions(first: number, count: number): Promise<string[]> {
  if (gateway === undefined) throw new Error('gateway not started');
  const sender = await SmClient.bound(gateway.port, 'tsender', 'pw', `desk${first}`);
  clients.push(sender);
  const sessions: string[] = [];
  const receivers: SmClient[] = [];
  for (let index = first; index < first + count; index++) {
    const client = await SmClient.bound(gateway.port, `trcv${index}`, 'pw', 'phone');
    clients.push(client);
    const enabled = await client.enable();
    sessions.push((enabled.attrs.id ?? '').split('.')[0] ?? '');
    receivers.push(client);
    for (let n = 0; n < QUEUED; n++) {
      sender.send(
        xml('message', { to: client.jid, id: `m${index}.${n}`, type: 'chat' }, xml('body', {}, `n=${n}`)),
      );
    }
  }
  for (const [index, client] of receivers.entries()) {
    await client.next((e) => e.name === 'message' && e.attrs.id === `m${first + index}.${QUEUED - 1}`);
    client.kill();
  }
  sender.kill();
  return sessions;
}

/** Every event of a session's log, decoded, in order. */
async function eventsOf(session: string): Promise<ReturnType<typeof decodeEvent>[]> {
  if (bus === undefined) throw new Error('no bus');
  const consumer = await bus.js.consumers.get(STREAMS.session.name, {
    filter_subjects: [sessionFilter(session)],
    deliver_policy: DeliverPolicy.All,
  });
  const pending = (await consumer.info()).num_pending;
  const events: ReturnType<typeof decodeEvent>[] = [];
  if (pending === 0) return events;
  const messages = await consumer.fetch({ max_messages: pending, expires: 5000 });
  for await (const message of messages) {
    events.push(decodeEvent(message.data));
    if (events.length >= pending) break;
  }
  return events;
}

async function statusOf(session: string): Promise<string | undefined> {
  if (bus === undefined) throw new Error('no bus');
  return (await new SessionLog(bus).state(session))?.state.status;
}

async function waitTerminated(sessions: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(sessions.map(statusOf));
    if (statuses.every((status) => status === 'TERMINATED')) return;
    if (Date.now() > deadline) throw new Error(`not all expired: ${statuses.join(', ')}`);
    await sleep(100);
  }
}

/** Exactly one expiry per session, and exactly one outcome per queued stanza (offline: the only resource). */
async function expectExpiredOnce(sessions: readonly string[]): Promise<void> {
  for (const session of sessions) {
    // The outcomes follow the termination (R0 request, offline store): wait for them, bounded.
    let events = await eventsOf(session);
    const outcomesOf = (): { stanzaId?: string | undefined; rule: string; action: string }[] =>
      events.flatMap((event) => (event.type === 'sm.unacked_outcome' ? [event.data] : []));
    for (let tries = 0; tries < 100 && outcomesOf().length < QUEUED; tries++) {
      await sleep(100);
      events = await eventsOf(session);
    }
    await sleep(200);
    events = await eventsOf(session);
    const terminations = events.filter((event) => event.type === 'sm.session_terminated');
    expect(
      terminations.map((event) => event.data),
      `terminations of ${session}`,
    ).toHaveLength(1);
    expect(terminations[0]?.type === 'sm.session_terminated' && terminations[0].data.kind).toBe('expired');
    const outcomes = outcomesOf();
    expect(outcomes, `outcomes of ${session}`).toHaveLength(QUEUED);
    expect(new Set(outcomes.map((outcome) => outcome.stanzaId)).size).toBe(QUEUED);
    expect(outcomes.every((outcome) => outcome.action === 'offline' && outcome.rule === 'R7b')).toBe(true);
  }
}

describe('timeout service', () => {
  it('SIGKILLed while deadlines are due: after a restart every due session expires exactly once, each queued stanza gets one outcome', async () => {
    const sessions = await hibernatingSessions(0, SESSIONS);
    const hibernatedAt = Date.now();
    expect(new Set(sessions.map((session) => partitionOf(session))).size).toBeGreaterThan(1);
    await sleep(HIBERNATION_S * 1000 - 1500);
    for (const timeout of timeouts.values()) timeout.child.kill('SIGKILL');
    await Promise.all([...timeouts.values()].map((timeout) => timeout.exited));
    timeouts.clear();
    // Every deadline passes while no timeout instance runs: nothing ends them meanwhile.
    await sleep(Math.max(0, hibernatedAt + HIBERNATION_S * 1000 + 1000 - Date.now()));
    expect(await Promise.all(sessions.map(statusOf))).toEqual(sessions.map(() => 'HIBERNATING'));

    const restartedAt = Date.now();
    await startTimeout(timeoutNodes[0] ?? '');
    await waitTerminated(sessions, 15_000);
    console.info(
      `timeout SIGKILL: overdue sessions expired ${Date.now() - restartedAt} ms after the restart`,
    );
    await expectExpiredOnce(sessions);
  });

  it('with two instances sharing the partitions, each timer fires once', async () => {
    if (bus === undefined) throw new Error('no bus');
    await startTimeout(timeoutNodes[1] ?? '');
    // Requests are seen by any plain subscriber of the command subject (the gateways answer as a queue group).
    const requests = new Map<string, number>();
    const subscription = bus.nc.subscribe('hf.cmd.sm.terminate', {
      callback: (_error, message) => {
        const { session } = JSON.parse(new TextDecoder().decode(message.data)) as { session: string };
        requests.set(session, (requests.get(session) ?? 0) + 1);
      },
    });
    try {
      // Let the restarted instance take its share before deadlines come due.
      await sleep(2000);
      const sessions = await hibernatingSessions(SESSIONS, SESSIONS);
      await waitTerminated(sessions, (HIBERNATION_S + 8) * 1000);
      await expectExpiredOnce(sessions);
      await sleep(500);
      expect(sessions.map((session) => requests.get(session) ?? 0)).toEqual(sessions.map(() => 1));
    } finally {
      subscription.unsubscribe();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '@holdfast/bus';
import { SmEnabled, SmResumeClaim, StanzaSent, type SmState } from '@holdfast/events';
import { SessionLog, gatewayKey, hashSecret, openGatewaysBucket } from '@holdfast/session-log';
import { SmQueue, SmSessions, Store } from '@holdfast/store';
import { eventually, recordingLogger, testInfrastructure, uniqueId } from '@holdfast/testing';

import { build, type SessionStateApp, type SessionStateConfig } from './app.js';

const logger = recordingLogger();
const infra = testInfrastructure();
const dbName = uniqueId('ss');
const gatewaysBucket = uniqueId('GW');
const usersBucket = uniqueId('USERS');
const durablePrefix = uniqueId('ss');
const config = {
  node_id: 'ss-test',
  old_session_ttl_s: 0,
  gateway_dead_after_ms: 2000,
  max_hibernated_sessions: 10,
  max_old_sessions: 10,
  nats_stream_replicas: 1,
} satisfies SessionStateConfig;

let bus: Bus;
let store: Store;
let log: SessionLog;
let app: SessionStateApp;

beforeAll(async () => {
  bus = await Bus.connect({ url: infra.natsUrl, name: 'session-state-test', node: 'test', logger });
  await bus.ensureStreams();
  store = await Store.open({ url: infra.mongoUrl, dbName, logger });
  await store.ensureIndexes();
  log = new SessionLog(bus);
  app = build({ config, bus, store, logger, durablePrefix, gatewaysBucket, usersBucket });
  await app.start();
});

afterAll(async () => {
  await app.stop();
  await bus.drain();
  await store.close();
});

/**
 * Sets up an SM session as a gateway's `<enable/>` would (T1), fenced on an empty log, and one stanza
 * written to it (unacknowledged). The stanza also keeps these tests clear of an empty-queue read that
 * `SessionLog.entries` does not handle yet (a direct-get batch without match answers 404).
 */
async function enable(owner: string, { resumable = true } = {}): Promise<string> {
  const session = uniqueId('s');
  const state: SmState = {
    version: 1,
    status: 'ACTIVE',
    jid: 'alice@localhost/r',
    resumable,
    ...(resumable ? { secretHash: hashSecret('s3cret') } : {}),
    max: resumable ? 60 : 0,
    owner,
    enabledAt: new Date().toISOString(),
    h: 0,
    acked: 0,
    ackedThrough: 0,
    writtenThrough: 0,
  };
  await log.publishFenced(
    SmEnabled,
    { id: `${session}.enabled`, data: { session, jid: state.jid, resumable, max: state.max, state } },
    0,
  );
  await bus.publish(StanzaSent, {
    id: `${session}.out.1`,
    data: { session, seq: 1, stanza: "<message id='m1'/>" },
  });
  return session;
}

const claim = (session: string, gateway: string) =>
  bus.request(
    SmResumeClaim,
    { session, bareJid: 'alice@localhost', secret: 's3cret', h: 0, gateway },
    { timeoutMs: 5000 },
  );

const projected = (session: string) =>
  store.run(SmSessions, 'findOne', (collection) => collection.findOne({ _id: session }));

describe('resume claims over NATS', () => {
  it('commits racing claims one at a time: distinct versions, each later one taking over the earlier', async () => {
    const session = await enable('gw-a');
    const gateways = ['gw-b', 'gw-c', 'gw-d', 'gw-e'];
    const replies = await Promise.all(gateways.map((gateway) => claim(session, gateway)));
    const committed = replies.flatMap((reply, i) => (reply.ok ? [{ ...reply, gateway: gateways[i] }] : []));
    expect(committed).toHaveLength(gateways.length);
    committed.sort((a, b) => a.state.version - b.state.version);
    expect(committed.map((reply) => reply.state.version)).toEqual([2, 3, 4, 5]);
    // Exactly one connection ends up attached: each commit displaced the one before it (T12).
    expect(committed.map((reply) => reply.previousOwner)).toEqual([
      'gw-a',
      ...committed.slice(0, -1).map((reply) => reply.gateway),
    ]);
    const state = await log.state(session);
    expect(state?.state).toMatchObject({ version: 5, owner: committed.at(-1)?.gateway, status: 'ACTIVE' });
  });

  it('lets exactly one of two racing claims win on the same snapshot; the other re-decides on the new one', async () => {
    const session = await enable('gw-a');
    const [first, second] = await Promise.all([claim(session, 'gw-b'), claim(session, 'gw-c')]);
    const fences = [first, second].map((reply) => (reply.ok ? reply.fence : 0));
    expect(new Set(fences).size).toBe(2);
    const loser = [first, second].find((reply) => reply.ok && reply.state.version === 2);
    expect(loser?.ok && loser.previousOwner).toBe('gw-a');
  });

  it('answers item-not-found for a wrong secret and leaves the session as it was', async () => {
    const session = await enable('gw-a');
    const reply = await bus.request(
      SmResumeClaim,
      { session, bareJid: 'alice@localhost', secret: 'wrong', h: 0, gateway: 'gw-b' },
      { timeoutMs: 5000 },
    );
    expect(reply).toEqual({ ok: false, condition: 'item-not-found' });
    expect((await log.state(session))?.state).toMatchObject({ version: 1, owner: 'gw-a' });
  });
});

describe('takeover of a dead gateway', () => {
  it('hibernates its resumable sessions and ends the others within the dead-after window', async () => {
    const dead = uniqueId('gw-dead-');
    const resumable = await enable(dead);
    const plain = await enable(dead, { resumable: false });
    const resumedElsewhere = await enable(dead);
    const onLiveGateway = await enable('gw-live');
    expect((await claim(resumedElsewhere, 'gw-b')).ok).toBe(true);

    // The gateway beats, then dies without deleting its key (SIGKILL).
    const kv = await openGatewaysBucket(bus, { bucket: gatewaysBucket });
    let lastBeat = 0;
    for (let i = 0; i < 4; i++) {
      await kv.put(
        gatewayKey(dead),
        JSON.stringify({ node: dead, at: new Date().toISOString(), incarnation: 'i' }),
      );
      lastBeat = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const hibernated = await eventually(
      async () => {
        const record = await log.state(resumable);
        return record?.state.status === 'HIBERNATING' ? record : undefined;
      },
      { timeoutMs: 8000, intervalMs: 25, what: 'takeover' },
    );
    const takeoverMs = Date.now() - lastBeat;
    logger.info({ takeoverMs }, 'measured takeover');
    process.stdout.write(`takeover after the last heartbeat: ${takeoverMs} ms\n`);
    expect(takeoverMs).toBeLessThan(5000);
    expect(takeoverMs).toBeGreaterThanOrEqual(config.gateway_dead_after_ms - 100);
    expect(hibernated.queued).toBe(1);
    expect(hibernated.state).toMatchObject({ version: 1, resumable: true, h: 0, acked: 0 });
    expect(hibernated.state.owner).toBeUndefined();
    expect(
      Date.parse(hibernated.state.deadline ?? '') - Date.parse(hibernated.state.hibernatedAt ?? ''),
    ).toBe(60_000);

    await eventually(async () =>
      (await log.state(plain))?.state.status === 'TERMINATED' ? true : undefined,
    );
    expect((await log.state(plain))?.state).toMatchObject({ terminatedKind: 'closed', recordKept: false });
    expect((await log.state(resumedElsewhere))?.state).toMatchObject({ status: 'ACTIVE', owner: 'gw-b' });
    expect((await log.state(onLiveGateway))?.state).toMatchObject({ status: 'ACTIVE', owner: 'gw-live' });

    // The projection follows, with the queue the gateway left; the dead gateway's key is forgotten.
    await eventually(async () => ((await projected(resumable))?.status === 'HIBERNATING' ? true : undefined));
    expect(await projected(resumable)).toMatchObject({ queueLength: 1, bareJid: 'alice@localhost' });
    expect(await projected(resumable)).not.toHaveProperty('owner');
    const queue = await store.run(SmQueue, 'find', (collection) =>
      collection.find({ session: resumable }).toArray(),
    );
    expect(queue.map((entry) => entry.stanza)).toEqual(["<message id='m1'/>"]);
    await eventually(async () => ((await kv.get(gatewayKey(dead)))?.operation !== 'PUT' ? true : undefined));
  });
});

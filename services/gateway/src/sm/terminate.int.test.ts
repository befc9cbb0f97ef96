import { SmSessionTerminated, SmTerminate } from '@holdfast/events';
import { SessionLog, appendToQueue, stateWithout } from '@holdfast/session-log';
import { OfflineMessages } from '@holdfast/store';
import { logSession } from '@holdfast/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startCluster, type TestCluster } from '../testing/cluster.js';

/**
 * `sm.terminate` (T9/T11 asked by the timeout service or session-state), answered by a gateway: only the
 * asked version while it hibernates, never before its deadline, and a termination that was committed but
 * whose §4 outcomes were not all logged (the gateway carrying it out died) is finished exactly once.
 */
let cluster: TestCluster;
let log: SessionLog;

beforeAll(async () => {
  cluster = await startCluster({ gateways: 1 });
  const gateway = cluster.gateways[0];
  if (gateway === undefined) throw new Error('no gateway');
  log = new SessionLog(gateway.bus);
});

afterAll(async () => {
  await cluster.stop();
});

const bus = () => {
  const gateway = cluster.gateways[0];
  if (gateway === undefined) throw new Error('no gateway');
  return gateway.bus;
};

/** A session logged as hibernating (deadline `deadlineInMs` from now) with `queued` chat messages. */
async function hibernating(
  user: string,
  deadlineInMs: number,
  queued: number,
): Promise<{ session: string; jid: string }> {
  const jid = `${user}@localhost/phone`;
  const { session } = await logSession(log, { jid, deadlineInMs });
  for (let n = 1; n <= queued; n++) {
    const appended = await appendToQueue(log, {
      session,
      stanza: `<message xmlns='jabber:client' type='chat' from='bob@localhost/desk' to='${jid}' id='q${n}'><body>${n}</body></message>`,
      maxQueueSize: 100,
    });
    expect(appended.kind).toBe('queued');
  }
  return { session, jid };
}

/**
 * What a gateway that died right after committing a termination leaves behind: the session TERMINATED
 * as `kind` (h kept unless `closed`), none of its `unacked` outcomes logged.
 */
async function commitTermination(
  session: string,
  jid: string,
  kind: 'expired' | 'closed',
  unacked: number,
): Promise<void> {
  const snapshot = await log.snapshot(session);
  if (snapshot === undefined) throw new Error('no snapshot');
  const rest = stateWithout(snapshot.record.state, 'hibernatedAt', 'deadline');
  await log.publishFenced(
    SmSessionTerminated,
    {
      id: `${session}.terminated.${kind}`,
      data: {
        session,
        jid,
        kind,
        h: 0,
        unacked,
        state: { ...rest, status: 'TERMINATED', terminatedKind: kind, recordKept: kind !== 'closed' },
      },
    },
    snapshot.record.seq,
    'f.state',
  );
}

const offlineFor = (user: string) =>
  cluster.store.run(OfflineMessages, 'count', (collection) =>
    collection.countDocuments({ owner: `${user}@localhost` }),
  );

describe('sm.terminate', () => {
  it('before the deadline answers early (with the deadline); another version is stale', async () => {
    const { session } = await hibernating('early1', 60_000, 0);
    const early = await bus().request(
      SmTerminate,
      { session, kind: 'expired', version: 1 },
      { timeoutMs: 5000 },
    );
    expect(early.result).toBe('early');
    const stale = await bus().request(
      SmTerminate,
      { session, kind: 'evicted', version: 2 },
      { timeoutMs: 5000 },
    );
    expect(stale).toEqual({ result: 'stale' });
    expect((await log.state(session))?.state.status).toBe('HIBERNATING');
  });

  it('expires a due session once: h-record kept, every queued message stored offline once', async () => {
    const { session } = await hibernating('due1', -1, 2);
    const first = await bus().request(
      SmTerminate,
      { session, kind: 'expired', version: 1 },
      { timeoutMs: 5000 },
    );
    expect(first).toEqual({ result: 'terminated', unacked: 2 });
    const state = (await log.state(session))?.state;
    expect(state).toMatchObject({ status: 'TERMINATED', terminatedKind: 'expired', recordKept: true });
    expect([...(await log.settledOutcomes(session))].sort()).toEqual([1, 2]);
    const again = await bus().request(
      SmTerminate,
      { session, kind: 'expired', version: 1 },
      { timeoutMs: 5000 },
    );
    expect(again).toEqual({ result: 'stale' });
    expect(await offlineFor('due1')).toBe(2);
  });

  it('finishes a committed termination whose outcomes were never logged, exactly once', async () => {
    const { session, jid } = await hibernating('crash1', -1, 3);
    await commitTermination(session, jid, 'expired', 3);
    expect(await log.settledOutcomes(session)).toEqual(new Set());

    const finished = await bus().request(
      SmTerminate,
      { session, kind: 'expired', version: 1 },
      { timeoutMs: 5000 },
    );
    expect(finished).toEqual({ result: 'terminated', unacked: 3 });
    expect([...(await log.settledOutcomes(session))].sort()).toEqual([1, 2, 3]);
    expect(await offlineFor('crash1')).toBe(3);
    const again = await bus().request(
      SmTerminate,
      { session, kind: 'expired', version: 1 },
      { timeoutMs: 5000 },
    );
    expect(again).toEqual({ result: 'stale' });
    expect(await offlineFor('crash1')).toBe(3);
  });

  it('finish never ends a live session, and finishes a committed termination of any kind', async () => {
    const { session, jid } = await hibernating('finish1', -1, 2);
    const live = await bus().request(
      SmTerminate,
      { session, kind: 'closed', version: 1, finish: true },
      { timeoutMs: 5000 },
    );
    expect(live).toEqual({ result: 'stale' });
    expect((await log.state(session))?.state.status).toBe('HIBERNATING');

    await commitTermination(session, jid, 'closed', 2);
    const finished = await bus().request(
      SmTerminate,
      { session, kind: 'closed', version: 1, finish: true },
      { timeoutMs: 5000 },
    );
    expect(finished).toEqual({ result: 'terminated', unacked: 2 });
    expect([...(await log.settledOutcomes(session))].sort()).toEqual([1, 2]);
    expect(await offlineFor('finish1')).toBe(2);
  });
});

import { ConcurrencyConflictError } from '@holdfast/bus';
import { STREAMS, SmMamQueried, SmSessionTerminated, SmTerminate, sessionTypeFilter } from '@holdfast/events';
import { SessionLog, appendToQueue, stateWithout } from '@holdfast/session-log';
import { OfflineMessages } from '@holdfast/store';
import { eventually, logSession } from '@holdfast/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseStanza } from '../stanza-text.js';
import { startCluster, type TestCluster } from '../testing/cluster.js';
import { mamQuery } from '../testing/mam.js';
import { SmClient } from '../testing/sm-client.js';
import { receivedSinceEnabled, resumeWith } from '../testing/sm-scenarios.js';

/**
 * Spec §4 R7a across processes: "the session issued a MAM query" is `sm.mam_queried` in the session's
 * log, written once by the gateway holding its connection and fenced like its other writes. Whichever
 * gateway ends the session reads it there (here: one that never held it, as after a crash), and no flag
 * can land after a committed termination, so that reading is final.
 */
let cluster: TestCluster;
let log: SessionLog;
const clients: SmClient[] = [];

beforeAll(async () => {
  cluster = await startCluster({
    gateways: 2,
    env: { C2S_REQUIRE_ENCRYPTION: 'false', SASL_ALLOW_PLAIN_WITHOUT_TLS: 'true' },
  });
  for (const user of ['ivy']) await cluster.accounts.add(user, `${user}-pw`, new Date());
  log = new SessionLog(bus());
});

afterAll(async () => {
  for (const client of clients) client.kill();
  await cluster.stop();
});

function bus(): SessionLog['bus'] {
  const gateway = cluster.gateways[0];
  if (gateway === undefined) throw new Error('no gateway');
  return gateway.bus;
}

/** What the gateway holding the session writes on its first query, fenced on the session's f.> lanes. */
async function logQuery(session: string, jid: string, fence: number): Promise<void> {
  await log.publishFenced(SmMamQueried, { id: `${session}.mam_queried`, data: { session, jid } }, fence);
}

/** A due hibernating session of `user` with two chats queued: one the user's archive holds, one not. */
async function dueWithChats(user: string): Promise<{ session: string; jid: string }> {
  const jid = `${user}@localhost/phone`;
  const { session } = await logSession(log, { jid, deadlineInMs: -1 });
  for (const [id, stanzaId] of [
    ['archived', `<stanza-id xmlns='urn:xmpp:sid:0' by='${user}@localhost' id='a1'/>`],
    ['plain', ''],
  ]) {
    const appended = await appendToQueue(log, {
      session,
      stanza: `<message xmlns='jabber:client' type='chat' from='bob@localhost/desk' to='${jid}' id='${id}'><body>x</body>${stanzaId}</message>`,
      maxQueueSize: 100,
    });
    expect(appended.kind).toBe('queued');
  }
  return { session, jid };
}

const offlineIds = async (user: string): Promise<string[]> =>
  (
    await cluster.store.run(OfflineMessages, 'find', (c) => c.find({ owner: `${user}@localhost` }).toArray())
  ).map((message) => parseStanza(message.stanza).attrs.id ?? '');

/** How many `sm.mam_queried` events the session's log holds. */
const flagsOf = async (session: string): Promise<number> => {
  const subject = sessionTypeFilter(session, SmMamQueried.type);
  const info = await bus().jsm.streams.info(STREAMS.session.name, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
};

describe('the MAM-query flag of spec §4 R7a', () => {
  it('is read from the log by a gateway that never held the session: R7a drops the archived chat', async () => {
    const flagged = await dueWithChats('flagged');
    await logQuery(flagged.session, flagged.jid, await log.fence(flagged.session));
    const control = await dueWithChats('unflagged');
    for (const { session } of [flagged, control]) {
      const ended = await bus().request(
        SmTerminate,
        { session, kind: 'expired', version: 1 },
        { timeoutMs: 5000 },
      );
      expect(ended).toEqual({ result: 'terminated', unacked: 2 });
    }
    // R7a before R7b: the archived one is dropped (the client fetches it from the archive); the other
    // goes to offline storage. Without the flag both do.
    expect(await offlineIds('flagged')).toEqual(['plain']);
    expect((await offlineIds('unflagged')).sort()).toEqual(['archived', 'plain']);
  });

  it('moves no fence, and cannot land after a committed termination', async () => {
    const jid = 'fence@localhost/phone';
    const { session } = await logSession(log, { jid, deadlineInMs: 60_000, stayActive: true });
    const fence = await log.fence(session);
    const record = await log.state(session);
    if (record === undefined) throw new Error('no state');
    await log.publishFenced(
      SmSessionTerminated,
      {
        id: `${session}.terminated.test`,
        data: {
          session,
          jid,
          kind: 'closed',
          h: 0,
          unacked: 0,
          state: { ...stateWithout(record.state, 'owner'), status: 'TERMINATED', terminatedKind: 'closed' },
        },
      },
      record.seq,
      'f.state',
    );
    // The owner's query, fenced on what it knew before the termination: refused.
    await expect(logQuery(session, jid, fence)).rejects.toBeInstanceOf(ConcurrencyConflictError);
    expect(await log.mamQueried(session)).toBe(false);

    const live = await logSession(log, { jid, deadlineInMs: 60_000, stayActive: true });
    const before = await log.fence(live.session);
    await logQuery(live.session, jid, before);
    expect(await log.mamQueried(live.session)).toBe(true);
    expect(await log.fence(live.session)).toBe(before);
  });

  it('is logged once per session by the gateway: a query before <enable/> at enable, none again after a resume', async () => {
    const port = (gateway: number): number => cluster.gateways[gateway]?.listening.c2sPort ?? 0;
    const ivy = await SmClient.bound(port(0), 'ivy', 'ivy-pw', 'phone');
    clients.push(ivy);
    ivy.send(mamQuery('before-enable'));
    await ivy.next((e) => e.name === 'iq' && e.attrs.id === 'before-enable');
    const enabled = await ivy.enable();
    const previd = enabled.attrs.id ?? '';
    const session = previd.split('.')[0] ?? '';
    expect(await log.mamQueried(session)).toBe(true);

    ivy.send(mamQuery('again'));
    await ivy.next((e) => e.name === 'iq' && e.attrs.id === 'again');
    const h = receivedSinceEnabled(ivy);
    ivy.kill();
    await eventually(async () =>
      (await log.state(session))?.state.status === 'HIBERNATING' ? true : undefined,
    );

    const resumed = await SmClient.authenticated(port(1), 'ivy', 'ivy-pw');
    clients.push(resumed);
    expect((await resumeWith(resumed, previd, h)).name).toBe('resumed');
    resumed.send(mamQuery('after-resume'));
    await resumed.next((e) => e.name === 'iq' && e.attrs.id === 'after-resume');
    expect(await flagsOf(session)).toBe(1);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { Bus, type Service } from '@holdfast/bus';
import { SmSessionTerminated, SmSetHibernationDeadline, SmTerminate, type RequestOf } from '@holdfast/events';
import { startNatsServer, type RunningNatsServer } from '@holdfast/localinfra';
import { SessionLog, stateWithout } from '@holdfast/session-log';
import { logSession, recordingLogger } from '@holdfast/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { build, type TimeoutApp, type TimeoutConfig } from './app.js';
import { FINISH_CHECK } from './timer-table.js';

/**
 * The timeout service on a real nats-server of its own (its `sm.terminate` requests and leases are
 * cluster-wide, so another test file's gateways must not answer them). `sm.terminate` is answered here
 * by a recorder standing in for the gateways, which answer it in services/gateway (terminate.int.test.ts).
 */
const config: TimeoutConfig = {
  node_id: 'timeout-a',
  timeout_lease_ms: 900,
  hibernation_time_s: 5,
  push_max_hibernation_s: 30,
  old_session_ttl_s: 0,
  nats_stream_replicas: 1,
};

let dir: string;
let nats: RunningNatsServer;
let bus: Bus;
let log: SessionLog;
const apps: TimeoutApp[] = [];
let terminations: Service;
/** Every sm.terminate request, with when it arrived. */
const requests: { request: RequestOf<typeof SmTerminate>; at: number }[] = [];
/** Sessions whose first request is answered `early` with this deadline. */
const earlyOnce = new Map<string, string>();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function startApp(node: string): Promise<TimeoutApp> {
  const app = build({ config: { ...config, node_id: node }, bus, logger: recordingLogger() });
  await app.start();
  apps.push(app);
  return app;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'holdfast-timeout-'));
  nats = await startNatsServer({ storeDir: dir });
  bus = await Bus.connect({ url: nats.url, name: 'timeout-test', node: 'test', logger: recordingLogger() });
  await bus.ensureStreams();
  log = new SessionLog(bus);
  terminations = bus.serve(SmTerminate, (request) => {
    requests.push({ request, at: Date.now() });
    const early = earlyOnce.get(request.session);
    if (early !== undefined) {
      earlyOnce.delete(request.session);
      return Promise.resolve({ result: 'early', deadline: early });
    }
    return Promise.resolve({ result: 'terminated', unacked: 0 });
  });
  await startApp('timeout-a');
});

afterAll(async () => {
  for (const app of apps) await app.stop().catch(() => undefined);
  await terminations.stop();
  await bus.drain();
  await nats.process.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A session logged as hibernating with its deadline `deadlineInMs` from now (or only enabled: ACTIVE). */
function hibernating(
  deadlineInMs: number,
  stayActive = false,
): Promise<{ session: string; deadline: number }> {
  return logSession(log, { jid: 'alice@localhost/phone', deadlineInMs, stayActive });
}

async function requestsFor(session: string, count: number, timeoutMs: number): Promise<number[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = requests.filter((entry) => entry.request.session === session).map((entry) => entry.at);
    if (found.length >= count || Date.now() > until) return found;
    await sleep(20);
  }
}

describe('timeout service', () => {
  it('fires a due timer once, at its deadline (not before), asking to end that version', async () => {
    const { session, deadline } = await hibernating(700);
    const [at, ...more] = await requestsFor(session, 1, 5000);
    expect(at).toBeGreaterThanOrEqual(deadline);
    expect((at ?? 0) - deadline).toBeLessThan(1000);
    expect(requests.find((entry) => entry.request.session === session)?.request).toEqual({
      session,
      kind: 'expired',
      version: 1,
    });
    await sleep(500);
    expect(more).toEqual([]);
    expect(await requestsFor(session, 2, 0)).toHaveLength(1);
  });

  it('an `early` answer re-arms the timer at the deadline the gateway found', async () => {
    const { session, deadline } = await hibernating(300);
    const later = new Date(deadline + 800).toISOString();
    earlyOnce.set(session, later);
    const [first, second] = await requestsFor(session, 2, 5000);
    expect(first).toBeGreaterThanOrEqual(deadline);
    expect(second).toBeGreaterThanOrEqual(Date.parse(later));
  });

  it('set_deadline: unknown, clamped to the push bound, moved timer fires at the new deadline; not while active', async () => {
    expect(
      await bus.request(SmSetHibernationDeadline, {
        session: 'unknown-session-id',
        deadline: new Date().toISOString(),
      }),
    ).toEqual({ ok: false, reason: 'unknown-session' });

    const { session } = await hibernating(60_000);
    const far = await bus.request(SmSetHibernationDeadline, {
      session,
      deadline: new Date(Date.now() + 3_600_000).toISOString(),
    });
    // Bound: max(hibernated + push_max_hibernation_s (30 s), now + hibernation_time_s (5 s)).
    expect(far.ok && Date.parse(far.deadline) - Date.now()).toBeLessThanOrEqual(30_000);
    expect(far.ok && Date.parse(far.deadline) - Date.now()).toBeGreaterThan(25_000);

    const soon = new Date(Date.now() + 600).toISOString();
    expect(await bus.request(SmSetHibernationDeadline, { session, deadline: soon })).toEqual({
      ok: true,
      deadline: soon,
    });
    expect((await log.state(session))?.state.deadline).toBe(soon);
    const [at] = await requestsFor(session, 1, 5000);
    expect(at).toBeGreaterThanOrEqual(Date.parse(soon));
    expect((at ?? 0) - Date.parse(soon)).toBeLessThan(1000);

    const active = await hibernating(0, true);
    expect(await bus.request(SmSetHibernationDeadline, { session: active.session, deadline: soon })).toEqual({
      ok: false,
      reason: 'not-hibernating',
    });
  });

  it('two instances share the partitions; when one stops the other takes them all, and timers keep firing', async () => {
    const [first] = apps;
    if (first === undefined) throw new Error('no app');
    const second = await startApp('timeout-b');
    const until = Date.now() + 10_000;
    while (
      Date.now() < until &&
      (first.leases.partitions.length !== 8 || second.leases.partitions.length !== 8)
    ) {
      await sleep(100);
    }
    expect([first.leases.partitions.length, second.leases.partitions.length]).toEqual([8, 8]);
    expect(new Set([...first.leases.partitions, ...second.leases.partitions]).size).toBe(16);

    await second.stop();
    apps.splice(apps.indexOf(second), 1);
    const afterStop = Date.now() + 5000;
    while (Date.now() < afterStop && first.leases.partitions.length !== 16) await sleep(100);
    expect(first.leases.partitions).toHaveLength(16);

    const sessions = await Promise.all([1, 2, 3, 4, 5, 6].map(() => hibernating(400)));
    for (const { session, deadline } of sessions) {
      const fired = await requestsFor(session, 1, 5000);
      expect(fired).toHaveLength(1);
      expect(fired[0]).toBeGreaterThanOrEqual(deadline);
    }
  });

  it('a recent termination with unacked stanzas gets one finish request, FINISH_CHECK.afterMs after it', async () => {
    const { session } = await hibernating(60_000);
    const record = await log.state(session);
    if (record === undefined) throw new Error('no state');
    const at = new Date(Date.now() - FINISH_CHECK.afterMs + 500);
    await log.publishFenced(
      SmSessionTerminated,
      {
        id: `${session}.terminated.test`,
        at,
        data: {
          session,
          jid: record.state.jid,
          kind: 'closed',
          h: 0,
          unacked: 2,
          state: {
            ...stateWithout(record.state, 'hibernatedAt', 'deadline'),
            status: 'TERMINATED',
            terminatedKind: 'closed',
          },
        },
      },
      record.seq,
      'f.state',
    );
    const [fired, ...more] = await requestsFor(session, 1, 5000);
    expect(fired).toBeGreaterThanOrEqual(at.getTime() + FINISH_CHECK.afterMs);
    expect(requests.find((entry) => entry.request.session === session)?.request).toEqual({
      session,
      kind: 'closed',
      version: 1,
      finish: true,
    });
    expect(more).toEqual([]);
  });

  it('deletes an h-record old_session_ttl_s after its termination (in the session log)', async () => {
    for (const app of apps.splice(0)) await app.stop();
    const app = build({
      config: { ...config, node_id: 'timeout-ttl', old_session_ttl_s: 1 },
      bus,
      logger: recordingLogger(),
    });
    await app.start();
    apps.push(app);
    const { session } = await hibernating(60_000);
    const record = await log.state(session);
    if (record === undefined) throw new Error('no state');
    const at = new Date(Date.now() - 500);
    await log.publishFenced(
      SmSessionTerminated,
      {
        id: `${session}.terminated.ttl`,
        at,
        data: {
          session,
          jid: record.state.jid,
          kind: 'expired',
          h: 3,
          unacked: 0,
          state: {
            ...stateWithout(record.state, 'hibernatedAt', 'deadline'),
            status: 'TERMINATED',
            terminatedKind: 'expired',
            recordKept: true,
          },
        },
      },
      record.seq,
      'f.state',
    );
    const until = Date.now() + 5000;
    let kept: boolean | undefined = true;
    while (kept === true && Date.now() < until) {
      await sleep(50);
      kept = (await log.state(session))?.state.recordKept;
    }
    expect(kept).toBe(false);
    // Not before the TTL: the record was kept for at least a second after its termination.
    expect(Date.now() - at.getTime()).toBeGreaterThanOrEqual(1000);
  });
});

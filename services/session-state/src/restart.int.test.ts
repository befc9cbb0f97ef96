import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '@holdfast/bus';
import { SmQueue, SmSessions, Store } from '@holdfast/store';
import { recordingLogger, testInfrastructure, uniqueId } from '@holdfast/testing';

import { build, type SessionStateApp } from './app.js';
import { SessionScript } from './testing/session-events.js';

const logger = recordingLogger();
const infra = testInfrastructure();
const dbName = uniqueId('ss');
const durablePrefix = uniqueId('ss');
const gatewaysBucket = uniqueId('GW');
const usersBucket = uniqueId('USERS');
const config = {
  node_id: 'ss-restart',
  old_session_ttl_s: 0,
  gateway_dead_after_ms: 2000,
  max_hibernated_sessions: 10,
  max_old_sessions: 10,
  nats_stream_replicas: 1,
};

let writer: Bus;
let store: Store;

beforeAll(async () => {
  writer = await Bus.connect({ url: infra.natsUrl, name: 'restart-writer', node: 'gw-a', logger });
  await writer.ensureStreams();
  store = await Store.open({ url: infra.mongoUrl, dbName, logger });
  await store.ensureIndexes();
});

afterAll(async () => {
  await writer.drain();
  await store.close();
});

/** One session-state instance on its own NATS connection, as a process would have. */
async function startInstance(name: string): Promise<{ app: SessionStateApp; bus: Bus }> {
  const bus = await Bus.connect({ url: infra.natsUrl, name, node: name, logger });
  const app = build({ config, bus, store, logger, durablePrefix, gatewaysBucket, usersBucket });
  await app.start();
  return { app, bus };
}

/**
 * SIGKILL as the servers see it: the connection drops with events in hand, nothing is drained. The
 * in-process remains (timers, loops) are then stopped, bounded: on a closed connection some of them only
 * end with their request timeouts, and a killed process would not have waited for them at all.
 */
async function kill({ app, bus }: { app: SessionStateApp; bus: Bus }): Promise<void> {
  await bus.nc.close();
  await Promise.race([
    app.stop().catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, 2000)),
  ]);
}

describe('session-state restart', () => {
  it('picks up where the killed instance stopped: nothing lost, nothing doubled', async () => {
    const scripts = Array.from({ length: 12 }, () => new SessionScript(writer, uniqueId('s'), 'gw-a'));
    const first = await startInstance('ss-1');
    for (const script of scripts) {
      await script.enable();
      await script.send();
      await script.hibernate();
      await script.queue();
    }
    // Killed while the projection is still busy with the burst.
    await kill(first);

    for (const [i, script] of scripts.entries()) {
      await script.queue();
      if (i % 3 === 0) await script.terminate('expired', true);
    }

    const second = await startInstance('ss-2');
    expect(await second.app.projection.waitCaughtUp(20_000)).toBe(true);
    for (const [i, script] of scripts.entries()) {
      const session = await store.run(SmSessions, 'findOne', (c) => c.findOne({ _id: script.session }));
      const queue = await store.run(SmQueue, 'find', (c) => c.find({ session: script.session }).toArray());
      if (i % 3 === 0) {
        expect(session).toMatchObject({ status: 'TERMINATED', queueLength: 0 });
        expect(queue).toEqual([]);
      } else {
        expect(session).toMatchObject({ status: 'HIBERNATING', queueLength: 3 });
        expect(queue.map((entry) => entry.stanza).sort()).toEqual([
          "<message id='out-1'/>",
          "<message id='q-2'/>",
          "<message id='q-3'/>",
        ]);
      }
    }
    // Other suites' sessions share the stream (and so this projection): count this test's only.
    const ids = scripts.map((script) => script.session);
    const total = await store.run(SmSessions, 'count', (c) => c.countDocuments({ _id: { $in: ids } }));
    expect(total).toBe(scripts.length);
    await second.app.stop();
    await second.bus.drain();
  });
});

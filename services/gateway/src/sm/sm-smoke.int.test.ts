import { xml } from '@holdfast/xmpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startCluster, type TestCluster } from '../testing/cluster.js';
import { SmClient } from '../testing/sm-client.js';

let cluster: TestCluster;
const clients: SmClient[] = [];

beforeAll(async () => {
  cluster = await startCluster({
    gateways: 2,
    env: {
      C2S_REQUIRE_ENCRYPTION: 'false',
      SASL_ALLOW_PLAIN_WITHOUT_TLS: 'true',
      SM_HIBERNATION_TIME_S: '5',
      SM_MAX_QUEUE_SIZE: '5',
      SM_MAX_ACK_DELAY_S: '2',
      SM_READ_TIMEOUT_S: '4',
    },
  });
  const now = new Date();
  for (const name of ['alice', 'bob']) await cluster.accounts.add(name, `${name}-pw`, now);
});

afterAll(async () => {
  for (const client of clients) client.kill();
  await cluster.stop();
});

const port = (index: number): number => cluster.gateways[index]?.listening.c2sPort ?? 0;

async function bound(index: number, user: string, resource: string): Promise<SmClient> {
  const client = await SmClient.bound(port(index), user, `${user}-pw`, resource);
  clients.push(client);
  return client;
}

describe('stream management smoke', () => {
  it('enables, counts, hibernates on kill and resumes through the other gateway with the queue', async () => {
    const alice = await bound(0, 'alice', 'phone');
    const enabled = await alice.enable();
    expect(enabled.name).toBe('enabled');
    const previd = enabled.attrs.id ?? '';
    expect(previd.length).toBeGreaterThan(20);
    alice.send(xml('presence'));
    expect(await alice.requestAck()).toBe(1);

    const bob = await bound(1, 'bob', 'desk');
    bob.send(xml('message', { to: 'alice@localhost/phone', id: 'm1', type: 'chat' }, xml('body', {}, 'one')));
    await alice.next((e) => e.name === 'message' && e.attrs.id === 'm1');
    alice.kill();
    await new Promise((resolve) => setTimeout(resolve, 300));
    bob.send(xml('message', { to: 'alice@localhost/phone', id: 'm2', type: 'chat' }, xml('body', {}, 'two')));
    await new Promise((resolve) => setTimeout(resolve, 300));

    const again = await SmClient.authenticated(port(1), 'alice', 'alice-pw');
    clients.push(again);
    again.send(xml('resume', { xmlns: 'urn:xmpp:sm:3', previd, h: '0' }));
    const resumed = await again.next((e) => e.name === 'resumed' || e.name === 'failed');
    expect(resumed.toString()).toContain('resumed');
    expect(resumed.attrs.h).toBe('1');
    const m1 = await again.next((e) => e.name === 'message' && e.attrs.id === 'm1');
    expect(m1.getChild('delay', 'urn:xmpp:delay')).toBeDefined();
    await again.next((e) => e.name === 'message' && e.attrs.id === 'm2');
    expect(await again.requestAck()).toBe(1);
  });
});

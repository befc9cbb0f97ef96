import { startSlixmpp, type SlixmppClient } from '@holdfast/testing';
import { xml } from '@holdfast/xmpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startCluster, type TestCluster } from './testing/cluster.js';
import { TestClient } from './testing/xmpp-client.js';

let cluster: TestCluster;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  cluster = await startCluster({ gateways: 2 });
  const now = new Date();
  for (const name of ['sally', 'xavier']) await cluster.accounts.add(name, `${name}-pw`, now);
});

afterAll(async () => {
  for (const stop of stops) await stop();
  await cluster.stop();
});

async function slixmpp(gateway: number, name: string): Promise<SlixmppClient> {
  const client = await startSlixmpp({
    jid: `${name}@localhost/slix`,
    password: `${name}-pw`,
    port: cluster.gateways[gateway]?.listening.c2sPort ?? 0,
    tls: 'starttls',
    fetchRoster: false,
    saslMechanism: 'SCRAM-SHA-1',
  });
  stops.push(() => client.stop());
  return client;
}

describe('slixmpp (Debian python3-slixmpp) over TCP + STARTTLS', () => {
  it('logs in with SCRAM, binds, and exchanges messages with an xmpp.js user on the other gateway', async () => {
    const sally = await slixmpp(0, 'sally');
    const started = await sally.next('session_start', 20_000);
    expect(started.jid).toBe('sally@localhost/slix');

    const xavier = await TestClient.connect({
      service: cluster.service(1),
      domain: cluster.domain,
      username: 'xavier',
      password: 'xavier-pw',
      resource: 'web',
    });
    stops.push(() => xavier.stop());
    await xavier.available();

    sally.send({ cmd: 'send_message', to: 'xavier@localhost', body: 'from slixmpp', id: 's1' });
    const atXavier = await xavier.waitFor((s) => s.attrs.id === 's1', 10_000);
    expect(atXavier.attrs.from).toBe('sally@localhost/slix');
    expect(atXavier.getChildText('body')).toBe('from slixmpp');

    await xavier.send(
      xml('message', { to: 'sally@localhost/slix', type: 'chat', id: 'x1' }, xml('body', {}, 'back')),
    );
    const atSally = await sally.next((event) => event.event === 'message' && event.id === 'x1', 10_000);
    expect(atSally).toMatchObject({ from: 'xavier@localhost/web', body: 'back' });
  });

  it('reports a wrong password as a failed authentication', async () => {
    const wrong = await startSlixmpp({
      jid: 'sally@localhost/bad',
      password: 'nope',
      port: cluster.gateways[0]?.listening.c2sPort ?? 0,
      tls: 'starttls',
      fetchRoster: false,
      saslMechanism: 'SCRAM-SHA-1',
    });
    stops.push(() => wrong.stop());
    await wrong.next('failed_auth', 20_000);
  });
});

import { startSlixmpp, type SlixmppEvent } from '@holdfast/testing';
import { xml } from '@holdfast/xmpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startCluster, type TestCluster } from '../testing/cluster.js';
import { TestClient } from '../testing/xmpp-client.js';

/**
 * Interop: slixmpp's own XEP-0313/XEP-0059 code (Debian's python3-slixmpp) against the gateway's
 * archive: the stanza-ids it sees on delivery are the ids its MAM iterator pages through, forward and
 * backward from the last page.
 */
let cluster: TestCluster;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  cluster = await startCluster({ gateways: 1 });
  const now = new Date();
  for (const name of ['sally', 'xavier']) await cluster.accounts.add(name, `${name}-pw`, now);
});

afterAll(async () => {
  for (const stop of stops) await stop();
  await cluster.stop();
});

const isMam = (event: SlixmppEvent): event is Extract<SlixmppEvent, { event: 'mam' }> =>
  event.event === 'mam';

describe('slixmpp MAM (XEP-0313) against the gateway', () => {
  it('pages through the archive forward and backward; the ids are the stanza-ids seen on delivery', async () => {
    const sally = await startSlixmpp({
      jid: 'sally@localhost/slix',
      password: 'sally-pw',
      port: cluster.gateways[0]?.listening.c2sPort ?? 0,
      tls: 'starttls',
      fetchRoster: false,
      saslMechanism: 'SCRAM-SHA-1',
    });
    stops.push(() => sally.stop());
    await sally.next('session_start', 20_000);
    const xavier = await TestClient.connect({
      service: cluster.service(0),
      domain: cluster.domain,
      username: 'xavier',
      password: 'xavier-pw',
      resource: 'web',
      timeout: 10_000,
    });
    stops.push(() => xavier.stop());
    await xavier.available();

    const bodies = ['one', 'two', 'three', 'four', 'five'];
    const delivered: string[] = [];
    for (const [n, body] of bodies.entries()) {
      await xavier.send(
        xml('message', { to: 'sally@localhost/slix', type: 'chat', id: `x${n}` }, xml('body', {}, body)),
      );
      const message = await sally.next(
        (event): event is Extract<SlixmppEvent, { event: 'message' }> =>
          event.event === 'message' && event.id === `x${n}`,
        10_000,
      );
      const own = message.stanzaIds.filter((sid) => sid.by === 'sally@localhost');
      expect(own).toHaveLength(1);
      delivered.push(own[0]?.id ?? '');
    }

    sally.send({ cmd: 'mam_query', with: 'xavier@localhost', max: 2, ref: 'forward' });
    const forward = await sally.next(isMam, 20_000);
    expect(forward.ref).toBe('forward');
    expect(forward.messages.map((m) => m.body)).toEqual(bodies);
    expect(forward.messages.map((m) => m.id)).toEqual(delivered);
    expect(
      forward.messages.every((m) => m.from === 'xavier@localhost/web' && m.to === 'sally@localhost/slix'),
    ).toBe(true);

    sally.send({ cmd: 'mam_query', with: 'xavier@localhost', max: 2, reverse: true, ref: 'backward' });
    const backward = await sally.next(isMam, 20_000);
    expect(backward.messages.map((m) => m.id)).toEqual([...delivered].reverse());
  });
});

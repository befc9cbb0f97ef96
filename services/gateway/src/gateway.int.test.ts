import { STREAMS, sessionFilter, type AnyEvent } from '@holdfast/events';
import { eventually, uniqueId } from '@holdfast/testing';
import { NS, xml } from '@holdfast/xmpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startCluster, type TestCluster } from './testing/cluster.js';
import { RawClient, header } from './testing/raw-client.js';
import { TestClient } from './testing/xmpp-client.js';

let cluster: TestCluster;
const clients: TestClient[] = [];

async function login(gateway: number, username: string, resource?: string): Promise<TestClient> {
  const client = await TestClient.connect({
    service: cluster.service(gateway),
    domain: cluster.domain,
    username,
    password: `${username}-secret`,
    ...(resource === undefined ? {} : { resource }),
  });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  cluster = await startCluster({ gateways: 2 });
  const now = new Date();
  for (const name of ['alice', 'bob', 'carol']) await cluster.accounts.add(name, `${name}-secret`, now);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.stop()));
  await cluster.stop();
});

describe('two gateways behave as one server (xmpp.js over TCP + STARTTLS)', () => {
  it('logs in with SCRAM, binds, and carries messages both ways across gateways', async () => {
    const alice = await login(0, 'alice', 'laptop');
    const bob = await login(1, 'bob', 'phone');
    expect(alice.jid).toBe('alice@localhost/laptop');
    expect(bob.jid).toBe('bob@localhost/phone');
    await alice.available();
    await bob.available();

    await alice.send(
      xml('message', { to: 'bob@localhost/phone', type: 'chat', id: 'm1' }, xml('body', {}, 'hi bob')),
    );
    const atBob = await bob.waitFor((s) => s.is('message') && s.attrs.id === 'm1');
    expect(atBob.attrs.from).toBe('alice@localhost/laptop');
    expect(atBob.getChildText('body')).toBe('hi bob');

    await bob.send(
      xml('message', { to: 'alice@localhost', type: 'chat', id: 'm2' }, xml('body', {}, 'hi alice')),
    );
    const atAlice = await alice.waitFor((s) => s.is('message') && s.attrs.id === 'm2');
    expect(atAlice.attrs.from).toBe('bob@localhost/phone');
  });

  it('answers an iq to an unavailable full JID with service-unavailable and a remote domain with remote-server-not-found', async () => {
    const carol = await login(0, 'carol');
    await carol.send(
      xml('iq', { to: 'bob@localhost/nowhere', type: 'get', id: 'q1' }, xml('ping', { xmlns: NS.PING })),
    );
    const error = await carol.waitFor((s) => s.attrs.id === 'q1');
    expect(error.attrs.type).toBe('error');
    expect(error.getChild('error')?.getChild('service-unavailable', NS.STANZA_ERROR)).toBeDefined();

    await carol.send(xml('message', { to: 'someone@remote.example', id: 'r1' }, xml('body', {}, 'x')));
    const bounce = await carol.waitFor((s) => s.attrs.id === 'r1');
    expect(bounce.getChild('error')?.getChild('remote-server-not-found', NS.STANZA_ERROR)).toBeDefined();
  });

  it('stores messages for a user without available resources and delivers them, stamped, on initial presence', async () => {
    const alice = await login(1, 'alice', 'desk');
    await alice.send(
      xml('message', { to: 'carol@localhost', type: 'chat', id: 'off1' }, xml('body', {}, 'later')),
    );
    // carol is online (previous test) but never sent initial presence: no available resource.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const carol = await login(1, 'carol', 'tablet');
    await carol.available();
    const stored = await carol.waitFor((s) => s.attrs.id === 'off1');
    expect(stored.getChildText('body')).toBe('later');
    expect(stored.getChild('delay', NS.DELAY)?.attrs.from).toBe('localhost');
  });

  it('replaces a session that binds the same resource on another gateway with a conflict stream error', async () => {
    const first = await login(0, 'bob', 'dup');
    const closed = new Promise<string>((resolve) => {
      first.xmpp.on('error', (error) => {
        resolve(error.message);
      });
    });
    await login(1, 'bob', 'dup');
    expect(await closed).toMatch(/conflict/);
  });

  it('rejects a wrong password', async () => {
    await expect(
      TestClient.connect({
        service: cluster.service(0),
        domain: cluster.domain,
        username: 'alice',
        password: 'wrong',
      }),
    ).rejects.toThrow(/not-authorized/);
  });
});

describe('roster and presence subscriptions (RFC 6121 §2-4) across gateways', () => {
  it('runs a subscription request and approval, with roster pushes and presence to the subscriber', async () => {
    const now = new Date();
    await cluster.accounts.add('dora', 'dora-secret', now);
    await cluster.accounts.add('emil', 'emil-secret', now);
    const dora = await login(0, 'dora', 'home');
    const emil = await login(1, 'emil', 'work');
    for (const client of [dora, emil]) {
      await client.send(xml('iq', { type: 'get', id: 'roster1' }, xml('query', { xmlns: NS.ROSTER })));
      await client.waitFor((s) => s.attrs.id === 'roster1' && s.attrs.type === 'result');
      await client.available();
    }

    await dora.send(xml('presence', { to: 'emil@localhost', type: 'subscribe', id: 'sub1' }));
    const request = await emil.waitFor((s) => s.is('presence') && s.attrs.type === 'subscribe');
    expect(request.attrs.from).toBe('dora@localhost');
    const pendingPush = await dora.waitFor(
      (s) =>
        s.is('iq') &&
        s.attrs.type === 'set' &&
        s.getChild('query', NS.ROSTER)?.getChild('item')?.attrs.ask === 'subscribe',
    );
    expect(pendingPush.getChild('query', NS.ROSTER)?.getChild('item')?.attrs.jid).toBe('emil@localhost');

    await emil.send(xml('presence', { to: 'dora@localhost', type: 'subscribed' }));
    const approved = await dora.waitFor((s) => s.is('presence') && s.attrs.type === 'subscribed');
    expect(approved.attrs.from).toBe('emil@localhost');
    await dora.waitFor(
      (s) => s.is('iq') && s.getChild('query', NS.ROSTER)?.getChild('item')?.attrs.subscription === 'to',
    );
    const presence = await dora.waitFor(
      (s) => s.is('presence') && s.attrs.from === 'emil@localhost/work' && s.attrs.type === undefined,
    );
    // Broadcast presence is addressed to the subscriber's bare JID and delivered to each available resource.
    expect(presence.attrs.to).toBe('dora@localhost');

    await emil.send(xml('iq', { type: 'get', id: 'roster2' }, xml('query', { xmlns: NS.ROSTER })));
    const roster = await emil.waitFor((s) => s.attrs.id === 'roster2');
    const item = roster.getChild('query', NS.ROSTER)?.getChild('item');
    expect(item?.attrs).toMatchObject({ jid: 'dora@localhost', subscription: 'from' });

    await emil.send(xml('presence', { id: 'away1' }, xml('show', {}, 'away')));
    const away = await dora.waitFor((s) => s.is('presence') && s.attrs.id === 'away1');
    expect(away.getChildText('show')).toBe('away');

    await emil.stop();
    const gone = await dora.waitFor(
      (s) => s.is('presence') && s.attrs.type === 'unavailable' && s.attrs.from === 'emil@localhost/work',
    );
    expect(gone.attrs.to).toBe('dora@localhost');
  });

  it('rejects a roster set with two items (RFC 6121 §2.3.3)', async () => {
    const dora = await login(1, 'dora', 'second');
    await dora.send(
      xml(
        'iq',
        { type: 'set', id: 'bad1' },
        xml(
          'query',
          { xmlns: NS.ROSTER },
          xml('item', { jid: 'a@localhost' }),
          xml('item', { jid: 'b@localhost' }),
        ),
      ),
    );
    const reply = await dora.waitFor((s) => s.attrs.id === 'bad1');
    expect(reply.getChild('error')?.getChild('bad-request', NS.STANZA_ERROR)).toBeDefined();
  });
});

describe('WebSocket (RFC 7395) and events', () => {
  it('carries a WebSocket client’s messages to a TCP client on the other gateway', async () => {
    const url = cluster.gateways[1]?.listening.websocketUrl ?? '';
    const web = await TestClient.connect({
      service: url,
      domain: cluster.domain,
      username: 'carol',
      password: 'carol-secret',
      resource: 'browser',
    });
    clients.push(web);
    const tcp = await login(0, 'alice', 'ws-peer');
    await tcp.available();
    await web.available();
    await web.send(
      xml('message', { to: 'alice@localhost/ws-peer', type: 'chat', id: 'w1' }, xml('body', {}, 'over ws')),
    );
    expect((await tcp.waitFor((s) => s.attrs.id === 'w1')).attrs.from).toBe('carol@localhost/browser');
    await tcp.send(
      xml('message', { to: 'carol@localhost/browser', type: 'chat', id: 'w2' }, xml('body', {}, 'back')),
    );
    expect((await web.waitFor((s) => s.attrs.id === 'w2')).getChildText('body')).toBe('back');
  });

  it('publishes connection events (opened, bound, closed) for a session', async () => {
    const client = await login(0, 'bob', 'evented');
    await Promise.all(
      [1, 2, 3].map((n) =>
        client.send(xml('message', { to: 'carol@localhost', id: `ev${n}` }, xml('body', {}, `n${n}`))),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    await client.stop();
    const gateway = cluster.gateways[0];
    if (gateway === undefined) throw new Error('no gateway');
    // The stream is shared by every test: find this session by its bind, then read only its events.
    const collect = async (filter: string): Promise<AnyEvent[]> => {
      const found: AnyEvent[] = [];
      const consumption = await gateway.bus.consume({
        stream: STREAMS.session.name,
        durable: uniqueId('ev'),
        filterSubjects: [filter],
        handler: (event) => {
          found.push(event);
          return Promise.resolve();
        },
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      await consumption.stop();
      return found;
    };
    const closed = await eventually(
      async () => {
        const bound = (await collect('hf.session.*.*.connection.bound')).find(
          (e) => e.type === 'connection.bound' && e.data.jid === 'bob@localhost/evented',
        );
        if (bound?.type !== 'connection.bound') return undefined;
        const session = bound.data.session;
        const found = await collect(sessionFilter(session));
        const mine = found.map((e) => e.type);
        const received = found.flatMap((e) => (e.type === 'stanza.received' ? [e.metadata.id] : []));
        return mine.includes('connection.closed') ? { session, mine, received } : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(closed.mine.filter((type) => type.startsWith('connection.'))).toEqual([
      'connection.opened',
      'connection.bound',
      'connection.closed',
    ]);
    // Pipelined stanzas each get their own event, ids by `h` within the SM session's version 1 (xmpp.js
    // enables stream management on its own), never reused.
    expect(closed.received).toEqual([1, 2, 3].map((n) => `${closed.session}.in.1.${n}`));
  });
});

describe('bad input gets the right stream error and never disturbs others', () => {
  const port = (): number => cluster.gateways[0]?.listening.c2sPort ?? 0;

  it('requires STARTTLS before authentication', async () => {
    const raw = await RawClient.open(port());
    raw.write(header('localhost'));
    await raw.expect(/<required\/><\/starttls>/);
    raw.write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHg=</auth>");
    await raw.expect(/<failure xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']><encryption-required\/>/);
    raw.write("<message to='bob@localhost'><body>x</body></message>");
    await raw.expect(/<policy-violation /);
    await raw.expectClosed();
  });

  it('answers malformed XML with not-well-formed and a DOCTYPE with restricted-xml', async () => {
    const broken = await RawClient.open(port());
    broken.write(`${header('localhost')}<a></b>`);
    await broken.expect(/<not-well-formed /);
    await broken.expectClosed();

    const doctype = await RawClient.open(port());
    doctype.write("<?xml version='1.0'?><!DOCTYPE foo [<!ENTITY x 'y'>]>");
    await doctype.expect(/<restricted-xml /);
    await doctype.expectClosed();
  });

  it('answers an unknown domain with host-unknown and an oversize stanza with policy-violation', async () => {
    const unknown = await RawClient.open(port());
    unknown.write(header('elsewhere.example'));
    await unknown.expect(/<host-unknown /);
    await unknown.expectClosed();

    const big = await RawClient.open(port());
    big.write(header('localhost'));
    await big.expect(/<\/stream:features>/);
    big.write(`<message><body>${'x'.repeat(300_000)}</body></message>`);
    await big.expect(/<policy-violation /);
    await big.expectClosed();
  });

  it('keeps other sessions working meanwhile', async () => {
    const dave = await login(0, 'alice', 'watcher');
    await dave.send(xml('iq', { type: 'get', id: 'p1' }, xml('ping', { xmlns: NS.PING })));
    expect((await dave.waitFor((s) => s.attrs.id === 'p1')).attrs.type).toBe('result');
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

import { startSlixmpp, testInfrastructure, uniqueId, type SlixmppClient } from '@holdfast/testing';
import { NS, xml } from '@holdfast/xmpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Test support of the gateway package (not part of its build): a certificate and an xmpp.js client.
import { loadOrGenerateCertificate } from '../services/gateway/src/transport/certificate.js';
import { TestClient } from '../services/gateway/src/testing/xmpp-client.js';
import {
  startGateway as startGatewayProcess,
  usersCli as runUsersCli,
  type ServiceProcess,
} from './support/processes.js';

/**
 * The whole path as an operator runs it: accounts created with the users CLI, two gateway processes
 * (`node services/gateway/dist/main.js`, built by `npm test` before vitest runs) on one NATS and one
 * MongoDB-wire server, a stock xmpp.js client on one and Debian's slixmpp on the other.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'holdfast-e2e-'));
const infra = testInfrastructure();
const env = {
  NATS_URL: infra.natsUrl,
  MONGO_URL: infra.mongoUrl,
  MONGO_DB: uniqueId('e2e'),
  XMPP_DOMAIN: 'localhost',
  TLS_CERT_FILE: path.join(dir, 'cert.pem'),
  TLS_KEY_FILE: path.join(dir, 'key.pem'),
  C2S_PORT: '0',
  XMPP_WEBSOCKET_PORT: '0',
};

const gateways: (ServiceProcess & { port: number })[] = [];
const startGateway = (node: string) => startGatewayProcess(env, node);
const usersCli = (...args: string[]) => runUsersCli(env, ...args);
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  const certificate = await loadOrGenerateCertificate({ domain: 'localhost' });
  writeFileSync(env.TLS_CERT_FILE, certificate.cert);
  writeFileSync(env.TLS_KEY_FILE, certificate.key);
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), certificate.cert]);
  expect(await usersCli('add', 'ann', 'ann-pw')).toBe('added ann@localhost');
  expect(await usersCli('add', 'ben', 'ben-pw')).toBe('added ben@localhost');
  expect(await usersCli('list')).toBe('ann@localhost\nben@localhost');
  gateways.push(await startGateway(uniqueId('e2e-a-')), await startGateway(uniqueId('e2e-b-')));
});

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  for (const gateway of gateways) gateway.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function ben(gateway: number): Promise<SlixmppClient> {
  const client = await startSlixmpp({
    jid: 'ben@localhost/py',
    password: 'ben-pw',
    port: gateways[gateway]?.port ?? 0,
    tls: 'starttls',
    saslMechanism: 'SCRAM-SHA-1',
  });
  cleanups.push(() => client.stop());
  await client.next('session_start', 20_000);
  return client;
}

describe('two gateway processes behave as one server', () => {
  it('subscribes, chats and delivers offline messages between xmpp.js and slixmpp on different processes', async () => {
    const ann = await TestClient.connect({
      service: `xmpp://127.0.0.1:${gateways[0]?.port ?? 0}`,
      domain: 'localhost',
      username: 'ann',
      password: 'ann-pw',
      resource: 'js',
    });
    cleanups.push(() => ann.stop());
    await ann.send(xml('iq', { type: 'get', id: 'r0' }, xml('query', { xmlns: NS.ROSTER })));
    await ann.waitFor((s) => s.attrs.id === 'r0');
    await ann.available();
    const slix = await ben(1);

    // RFC 6121 §3.1: ann asks, ben (slixmpp) approves; ann gets the push and ben's presence.
    await ann.send(xml('presence', { to: 'ben@localhost', type: 'subscribe' }));
    const request = await slix.next((e) => e.event === 'presence' && e.type === 'subscribe', 10_000);
    expect(request).toMatchObject({ from: 'ann@localhost' });
    slix.send({ cmd: 'subscribed', to: 'ann@localhost' });
    await ann.waitFor(
      (s) => s.is('presence') && s.attrs.type === 'subscribed' && s.attrs.from === 'ben@localhost',
    );
    await ann.waitFor((s) => s.getChild('query', NS.ROSTER)?.getChild('item')?.attrs.subscription === 'to');
    await ann.waitFor(
      (s) => s.is('presence') && s.attrs.from === 'ben@localhost/py' && s.attrs.type === undefined,
    );

    // Messages both ways.
    await ann.send(
      xml('message', { to: 'ben@localhost', type: 'chat', id: 'a1' }, xml('body', {}, 'hello ben')),
    );
    expect(await slix.next((e) => e.event === 'message' && e.id === 'a1', 10_000)).toMatchObject({
      from: 'ann@localhost/js',
      body: 'hello ben',
    });
    slix.send({ cmd: 'send_message', to: 'ann@localhost/js', body: 'hello ann', id: 'b1' });
    expect((await ann.waitFor((s) => s.attrs.id === 'b1', 10_000)).getChildText('body')).toBe('hello ann');

    // Offline: ben leaves, ann writes, ben comes back on the other process and gets it, stamped.
    await slix.stop();
    await ann.waitFor(
      (s) => s.is('presence') && s.attrs.type === 'unavailable' && s.attrs.from === 'ben@localhost/py',
    );
    await ann.send(
      xml('message', { to: 'ben@localhost', type: 'chat', id: 'a2' }, xml('body', {}, 'while away')),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = await ben(0);
    expect(await again.next((e) => e.event === 'message' && e.id === 'a2', 10_000)).toMatchObject({
      from: 'ann@localhost/js',
      body: 'while away',
    });
  });

  it('ends its streams with system-shutdown and exits 0 on SIGTERM', async () => {
    const gateway = gateways[1];
    if (gateway === undefined) throw new Error('no gateway');
    const slix = await ben(1);
    gateway.child.kill('SIGTERM');
    expect(await slix.next('stream_error', 10_000)).toMatchObject({ condition: 'system-shutdown' });
    expect(await gateway.exited).toBe(0);
  });
});

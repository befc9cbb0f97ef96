import { createServer, type Socket } from 'node:net';

import { freePort } from '@holdfast/localinfra';
import { afterEach, describe, expect, it } from 'vitest';

import { slixmppVersion, startSlixmpp, type SlixmppClient } from './slixmpp.js';

// These run without an XMPP server; logins against the gateway are tested with the gateway.
describe('the slixmpp test client', () => {
  const clients: SlixmppClient[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.stop()));
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  it("is Debian's python3-slixmpp 1.8 (./holdfast setup installs it)", async () => {
    expect(await slixmppVersion()).toMatch(/^1\.8\./);
  });

  it('reports a refused connection within a bound time, keeps serving commands and stops cleanly', async () => {
    const port = await freePort();
    const started = Date.now();
    const client = await startSlixmpp({
      jid: 'alice@example.test',
      password: 'secret',
      port,
      tls: 'starttls',
    });
    clients.push(client);

    const failed = await client.next('connection_failed', 5000);
    expect(failed.text).toMatch(/refused|failed/i);
    expect(await client.next('disconnected', 1000)).toMatchObject({ event: 'disconnected' });
    expect(Date.now() - started).toBeLessThan(5000);

    expect(await client.request({ cmd: 'echo', note: 'round trip', n: [1, 2] })).toMatchObject({
      event: 'echo',
      note: 'round trip',
      n: [1, 2],
    });
    client.send({ cmd: 'frobnicate' } as unknown as Parameters<SlixmppClient['send']>[0]);
    expect(await client.next('error', 2000)).toMatchObject({
      cmd: 'frobnicate',
      text: "unknown command 'frobnicate'",
    });

    const stopping = Date.now();
    await client.stop();
    expect(await client.exited).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(3000);
    expect(client.events.map((event) => event.event)).toEqual([
      'ready',
      'connection_failed',
      'disconnected',
      'echo',
      'error',
    ]);
  });

  it('gives up on a server that never answers after connectTimeoutMs, and stops while connected', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.resume(); // reads (and drops) what the client sends, never writes a byte
      socket.on('close', () => sockets.delete(socket));
    });
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => {
        silent.close(() => {
          resolve();
        });
      });
    });
    const port = await new Promise<number>((resolve) => {
      silent.listen(0, '127.0.0.1', () => {
        const address = silent.address();
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });

    const client = await startSlixmpp({
      jid: 'alice@example.test',
      password: 'secret',
      port,
      tls: 'none',
      connectTimeoutMs: 500,
    });
    clients.push(client);
    await client.next('connected', 5000);
    expect(await client.next('error', 3000)).toMatchObject({ text: 'no session within 0.5 s' });
    await client.next('disconnected', 2000);

    // Connected again to the silent server, stop() must still end the process in bounded time.
    client.send({ cmd: 'connect' });
    await client.next('connected', 5000);
    const stopping = Date.now();
    await client.stop(3000);
    expect(Date.now() - stopping).toBeLessThan(4000);
    expect(await client.exited).toBe(0);
  });

  it('rejects next() at once when the process has exited', async () => {
    const client = await startSlixmpp({
      jid: 'alice@example.test',
      password: 'secret',
      port: await freePort(),
      tls: 'starttls',
    });
    clients.push(client);
    await client.stop();
    await expect(client.next('session_start', 5000)).rejects.toThrow(
      /exited \(code 0\) before a session_start event/,
    );
    expect(() => {
      client.send({ cmd: 'echo' });
    }).toThrow(/not running/);
  });
});

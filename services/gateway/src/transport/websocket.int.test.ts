import { createRequire } from 'node:module';

import { eventually, recordingLogger } from '@holdfast/testing';
import { afterEach, describe, expect, it } from 'vitest';

import { loadOrGenerateCertificate } from './certificate.js';
import type { Transport } from './transport.js';
import {
  buildWebSocketApp,
  startWebSocketListener,
  type WebSocketListener,
  type WebSocketListenerOptions,
} from './websocket.js';

/** What the tests use of the `ws` client (the package ships no types). */
interface WsClient {
  readonly protocol: string;
  send(data: string | Buffer): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'open' | 'ping', listener: () => void): this;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
}
type WsClientConstructor = new (
  url: string,
  protocols?: string[],
  options?: { readonly autoPong?: boolean; readonly ca?: string },
) => WsClient;

const { WebSocket } = createRequire(import.meta.url)('ws') as { WebSocket: WsClientConstructor };

const XMPP_OPEN = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.org' version='1.0'/>";

/** One client connection and everything it saw. */
class Client {
  readonly messages: { readonly text: string; readonly binary: boolean }[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>;
  pings = 0;
  error: Error | undefined;

  constructor(
    readonly ws: WsClient,
    clients: Client[],
  ) {
    clients.push(this);
    this.opened = new Promise((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', (error) => {
        this.error = error;
        reject(error);
      });
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString('utf8') });
      });
    });
    ws.on('message', (data, binary) => {
      this.messages.push({ text: data.toString('utf8'), binary });
    });
    ws.on('ping', () => {
      this.pings += 1;
    });
  }
}

/** A server-side transport with what reached it. */
interface Peer {
  readonly transport: Transport;
  readonly received: (string | Buffer)[];
  closes: number;
}

const listeners: WebSocketListener[] = [];
const clients: Client[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  await Promise.all(listeners.splice(0).map((listener) => listener.close()));
});

async function listen(overrides: Partial<WebSocketListenerOptions> = {}) {
  const logger = recordingLogger();
  const peers: Peer[] = [];
  const listener = await startWebSocketListener({
    host: '127.0.0.1',
    port: 0,
    logger,
    maxMessageBytes: 1024,
    onConnection: (transport) => {
      const peer: Peer = { transport, received: [], closes: 0 };
      transport.onData((chunk) => peer.received.push(chunk));
      transport.onClose(() => {
        peer.closes += 1;
      });
      peers.push(peer);
    },
    ...overrides,
  });
  listeners.push(listener);
  const peer = (index = 0): Promise<Peer> =>
    eventually(() => peers[index], { what: `server-side connection ${index}` });
  return { listener, logger, peers, peer };
}

function connect(
  url: string,
  protocols: string[] = ['xmpp'],
  options: { autoPong?: boolean; ca?: string } = {},
) {
  return new Client(new WebSocket(url, protocols, options), clients);
}

describe('handshake (RFC 7395 §3.1)', () => {
  it('accepts a client offering xmpp and echoes the subprotocol', async () => {
    const { listener, peer } = await listen();
    expect(listener.url).toBe(`ws://127.0.0.1:${listener.port}/xmpp-websocket`);
    const client = connect(listener.url);
    await client.opened;
    expect(client.ws.protocol).toBe('xmpp');
    const { transport } = await peer();
    expect(transport).toMatchObject({
      kind: 'websocket',
      framing: 'framed',
      secure: false,
      remoteAddress: '127.0.0.1',
    });
    expect(transport.startTls).toBeUndefined();
  });

  it('picks xmpp among several offered subprotocols', async () => {
    const { listener } = await listen();
    const client = connect(listener.url, ['mqtt', 'xmpp']);
    await client.opened;
    expect(client.ws.protocol).toBe('xmpp');
  });

  it.each([
    ['no subprotocol', []],
    ['other subprotocols only', ['mqtt', 'xmpp-framing']],
  ])('refuses a handshake with %s: HTTP 400, no connection', async (_case, protocols) => {
    const { listener, peers } = await listen();
    const client = connect(listener.url, protocols);
    await expect(client.opened).rejects.toThrow('Unexpected server response: 400');
    await client.closed;
    expect(peers).toHaveLength(0);
  });

  it('answers a plain GET on the WebSocket path with 426 and serves /health', async () => {
    const { listener } = await listen();
    const base = `http://127.0.0.1:${listener.port}`;
    const plain = await fetch(`${base}/xmpp-websocket`);
    expect(plain.status).toBe(426);
    expect(plain.headers.get('upgrade')).toBe('websocket');
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });
  });

  it('builds the app without listening (inject)', async () => {
    const app = buildWebSocketApp({
      logger: recordingLogger(),
      maxMessageBytes: 1024,
      onConnection: () => undefined,
    });
    try {
      const response = await app.inject({ method: 'GET', url: '/health' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ ok: true });
      expect(app.server.listening).toBe(false);
    } finally {
      await app.close();
    }
  });

  it('serves wss:// with a secure transport', async () => {
    const certificate = await loadOrGenerateCertificate({ domain: 'localhost' });
    const { listener, peer } = await listen({ tls: { cert: certificate.cert, key: certificate.key } });
    expect(listener.url).toBe(`wss://127.0.0.1:${listener.port}/xmpp-websocket`);
    const client = connect(listener.url.replace('127.0.0.1', 'localhost'), ['xmpp'], {
      ca: certificate.cert,
    });
    await client.opened;
    const { transport, received } = await peer();
    expect(transport.secure).toBe(true);
    client.ws.send(XMPP_OPEN);
    await eventually(() => (received.length === 1 ? true : undefined));
    expect(received).toEqual([XMPP_OPEN]);
  });
});

describe('messages (RFC 7395 §3.2, §3.3.3)', () => {
  it('passes each client text message as one string, and sends each send() as one text message', async () => {
    const { listener, peer } = await listen();
    const client = connect(listener.url);
    await client.opened;
    const { transport, received } = await peer();

    const message = "<message to='juliet@example.org'><body>Wherefore art thou? ☀️ 𝄞</body></message>";
    client.ws.send(XMPP_OPEN);
    client.ws.send(message);
    await eventually(() => (received.length === 2 ? true : undefined));
    expect(received).toEqual([XMPP_OPEN, message]);

    transport.send(
      "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='example.org' id='s1' version='1.0'/>",
    );
    transport.send('<iq type="result" id="ü"/>');
    await eventually(() => (client.messages.length === 2 ? true : undefined));
    expect(client.messages.map((m) => m.binary)).toEqual([false, false]);
    expect(client.messages[1]?.text).toBe('<iq type="result" id="ü"/>');
  });

  it('keeps messages that arrive before onData is registered', async () => {
    const received: (string | Buffer)[] = [];
    let server: Transport | undefined;
    const { listener } = await listen({
      onConnection: (transport) => {
        server = transport;
      },
    });
    const client = connect(listener.url);
    await client.opened;
    client.ws.send(XMPP_OPEN);
    client.ws.send('<presence/>');
    const transport = await eventually(() => server);
    await new Promise((resolve) => setTimeout(resolve, 50));
    transport.onData((chunk) => received.push(chunk));
    expect(received).toEqual([XMPP_OPEN, '<presence/>']);
  });

  it('closes with 1003 on a binary message, without passing it on', async () => {
    const { listener, peer } = await listen();
    const client = connect(listener.url);
    await client.opened;
    const server = await peer();
    client.ws.send(Buffer.from(XMPP_OPEN));
    expect((await client.closed).code).toBe(1003);
    await eventually(() => (server.closes === 1 ? true : undefined));
    expect(server.received).toEqual([]);
  });

  it('accepts a message of maxMessageBytes and closes with 1009 on a larger one', async () => {
    const { listener, peer } = await listen({ maxMessageBytes: 1024 });
    const client = connect(listener.url);
    await client.opened;
    const server = await peer();
    // 7 bytes of tags + 508 two-byte characters + 1: exactly the limit, counted in bytes, not characters.
    const exact = `<b>${'é'.repeat(508)}x</b>`;
    const tooLarge = `${exact} `;
    expect(Buffer.byteLength(exact)).toBe(1024);
    client.ws.send(exact);
    await eventually(() => (server.received.length === 1 ? true : undefined));
    client.ws.send(tooLarge);
    expect((await client.closed).code).toBe(1009);
    await eventually(() => (server.closes === 1 ? true : undefined));
    expect(server.received).toEqual([exact]);
  });
});

describe('closing', () => {
  it('close() delivers what was sent, then closes with 1000; onClose fires once', async () => {
    const { listener, peer } = await listen();
    const client = connect(listener.url);
    await client.opened;
    const server = await peer();
    server.transport.send("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
    server.transport.close();
    server.transport.close();
    expect((await client.closed).code).toBe(1000);
    expect(client.messages.map((m) => m.text)).toEqual([
      "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
    ]);
    await eventually(() => (server.closes === 1 ? true : undefined));
    server.transport.destroy();
    server.transport.send('<late/>');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.closes).toBe(1);
  });

  it('destroy() drops the connection without a close frame (1006 at the client)', async () => {
    const { listener, peer } = await listen();
    const client = connect(listener.url);
    await client.opened;
    const server = await peer();
    server.transport.destroy();
    expect((await client.closed).code).toBe(1006);
    await eventually(() => (server.closes === 1 ? true : undefined));
  });

  it('a client-initiated close reaches onClose once, and onClose registered afterwards still runs', async () => {
    const { listener, peer } = await listen();
    const client = connect(listener.url);
    await client.opened;
    const server = await peer();
    client.ws.close(1000);
    expect((await client.closed).code).toBe(1000);
    await eventually(() => (server.closes === 1 ? true : undefined));
    let late = 0;
    server.transport.onClose(() => {
      late += 1;
    });
    expect(late).toBe(1);
    expect(server.closes).toBe(1);
  });

  it('closing the listener closes its connections with 1001', async () => {
    const { listener, peer } = await listen();
    const client = connect(listener.url);
    await client.opened;
    const server = await peer();
    await listener.close();
    expect((await client.closed).code).toBe(1001);
    expect(server.closes).toBe(1);
  });
});

describe('keepalive', () => {
  it('pings, keeps a client that answers, and terminates one that does not', async () => {
    const { listener, peer } = await listen({ pingIntervalMs: 40 });
    const silent = connect(listener.url, ['xmpp'], { autoPong: false });
    await silent.opened;
    const silentServer = await peer(0);
    const answering = connect(listener.url);
    await answering.opened;
    const answeringServer = await peer(1);

    expect((await silent.closed).code).toBe(1006);
    expect(silent.pings).toBeGreaterThanOrEqual(1);
    await eventually(() => (silentServer.closes === 1 ? true : undefined));

    await eventually(() => (answering.pings >= 4 ? true : undefined));
    expect(answeringServer.closes).toBe(0);
  });
});

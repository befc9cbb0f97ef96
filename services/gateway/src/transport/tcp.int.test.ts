import net from 'node:net';
import tls from 'node:tls';

import { eventually, recordingLogger } from '@holdfast/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { loadOrGenerateCertificate, type Certificate } from './certificate.js';
import { TlsHandshakeError, TransportStateError } from './errors.js';
import { startTcpListener, type TcpListener, type TcpListenerOptions } from './tcp.js';
import type { Transport } from './transport.js';

const STARTTLS = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
const PROCEED = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
const INJECTED = "<iq type='set' id='injected'><query xmlns='jabber:iq:register'/></iq>";

let certificate: Certificate;
const listeners: TcpListener[] = [];
const sockets: net.Socket[] = [];

beforeAll(async () => {
  certificate = await loadOrGenerateCertificate({ domain: 'localhost' });
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(listeners.splice(0).map((listener) => listener.close()));
});

/** A server-side transport with what reached it. */
interface Peer {
  readonly transport: Transport;
  readonly chunks: Buffer[];
  closes: number;
}

function text(peer: Peer): string {
  return Buffer.concat(peer.chunks).toString('utf8');
}

async function listen(
  overrides: Partial<TcpListenerOptions> = {},
  onData?: (peer: Peer, chunk: Buffer) => void,
) {
  const logger = recordingLogger();
  const peers: Peer[] = [];
  const listener = await startTcpListener({
    host: '127.0.0.1',
    port: 0,
    starttls: { cert: certificate.cert, key: certificate.key },
    logger,
    maxConnectionsPerIp: 16,
    onConnection: (transport) => {
      const peer: Peer = { transport, chunks: [], closes: 0 };
      transport.onData((chunk) => {
        expect(Buffer.isBuffer(chunk)).toBe(true);
        peer.chunks.push(chunk as Buffer);
        onData?.(peer, chunk as Buffer);
      });
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

/** A client socket that collects what it reads. */
class Client {
  received = '';
  ended = false;
  /** The ALPN protocol the server chose, on direct TLS. */
  alpnProtocol: string | false | null = null;
  readonly closed: Promise<void>;

  constructor(readonly socket: net.Socket) {
    sockets.push(socket);
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('utf8');
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.ended = true;
        resolve();
      });
    });
  }

  static async connect(port: number): Promise<Client> {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new Client(socket);
  }

  static async connectTls(port: number, options: tls.ConnectionOptions = {}): Promise<Client> {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: certificate.cert,
      ...options,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    const client = new Client(socket);
    client.alpnProtocol = socket.alpnProtocol;
    return client;
  }

  waitFor(expected: string): Promise<void> {
    return eventually(() => (this.received.includes(expected) ? true : undefined), {
      what: `client to read ${expected}`,
    }).then(() => undefined);
  }
}

/** The client side of STARTTLS: TLS over the already connected socket, trusting the generated certificate. */
async function upgradeClient(client: Client): Promise<Client> {
  client.socket.removeAllListeners('data');
  const secureSocket = tls.connect({ socket: client.socket, servername: 'localhost', ca: certificate.cert });
  await new Promise<void>((resolve, reject) => {
    secureSocket.once('secureConnect', resolve);
    secureSocket.once('error', reject);
  });
  return new Client(secureSocket);
}

describe('plain TCP', () => {
  it('passes Buffer chunks in order and writes what is sent', async () => {
    const { listener, peer } = await listen();
    const client = await Client.connect(listener.port);
    const header = "<?xml version='1.0'?><stream:stream to='example.org' version='1.0'>";
    client.socket.write(header.slice(0, 10));
    const server = await peer();
    expect(server.transport).toMatchObject({
      kind: 'tcp',
      framing: 'stream',
      secure: false,
      remoteAddress: '127.0.0.1',
    });
    expect(server.transport.startTls).toBeTypeOf('function');
    await eventually(() => (text(server).length === 10 ? true : undefined));
    client.socket.write(header.slice(10));
    await eventually(() => (text(server) === header ? true : undefined));

    server.transport.send("<stream:stream from='example.org' id='ü1'>");
    await client.waitFor("id='ü1'>");
  });

  it('reads nothing until onData is registered, and loses nothing', async () => {
    let server: Transport | undefined;
    const { listener } = await listen({
      onConnection: (transport) => {
        server = transport;
      },
    });
    const client = await Client.connect(listener.port);
    client.socket.write('<stream:stream>');
    const transport = await eventually(() => server);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const chunks: (string | Buffer)[] = [];
    transport.onData((chunk) => chunks.push(chunk));
    await eventually(() => (chunks.length > 0 ? true : undefined));
    expect(Buffer.concat(chunks as Buffer[]).toString()).toBe('<stream:stream>');
  });

  it('close() flushes what was sent, then ends; onClose fires once', async () => {
    const { listener, peer } = await listen();
    const client = await Client.connect(listener.port);
    const server = await peer();
    server.transport.send('</stream:stream>');
    server.transport.close();
    server.transport.close();
    await client.closed;
    expect(client.received).toBe('</stream:stream>');
    await eventually(() => (server.closes === 1 ? true : undefined));
    server.transport.destroy();
    server.transport.send('<late/>');
    let late = 0;
    server.transport.onClose(() => {
      late += 1;
    });
    expect(late).toBe(1);
    expect(server.closes).toBe(1);
  });

  it('close() cuts off a peer that does not close its side', async () => {
    const { listener, peer } = await listen({ closeTimeoutMs: 100 });
    const socket = net.connect({ host: '127.0.0.1', port: listener.port, allowHalfOpen: true });
    const client = new Client(socket);
    const ended = new Promise((resolve) => socket.once('end', resolve));
    const server = await peer();
    server.transport.close();
    await ended;
    await eventually(() => (server.closes === 1 ? true : undefined));
    expect(client.ended).toBe(false);
  });

  it('destroy() drops the connection at once', async () => {
    const { listener, peer } = await listen();
    const client = await Client.connect(listener.port);
    const server = await peer();
    server.transport.destroy();
    await client.closed;
    await eventually(() => (server.closes === 1 ? true : undefined));
  });

  it('closing the listener closes its connections', async () => {
    const { listener, peer } = await listen();
    const client = await Client.connect(listener.port);
    const server = await peer();
    await listener.close();
    await client.closed;
    expect(server.closes).toBe(1);
  });
});

describe('STARTTLS (RFC 6120 §5.4)', () => {
  /**
   * A stand-in for the stream layer: `<starttls/>` is answered with `<proceed/>` and `startTls()` in the same
   * tick; `upgrade` settles with its outcome.
   */
  async function starttlsServer(overrides: Partial<TcpListenerOptions> = {}) {
    let startUpgrade!: (outcome: Promise<void>) => void;
    const upgrade = new Promise<Promise<void>>((resolve) => {
      startUpgrade = resolve;
    });
    const setup = await listen(overrides, (peer, chunk) => {
      if (!chunk.toString().includes('<starttls')) return;
      peer.transport.send(PROCEED);
      const startTls = peer.transport.startTls;
      if (startTls === undefined) throw new Error('no startTls');
      const outcome = startTls();
      outcome.catch(() => undefined);
      startUpgrade(outcome);
    });
    return { ...setup, upgrade: upgrade.then((outcome) => outcome) };
  }

  it('upgrades in place: secure becomes true, data flows decrypted both ways', async () => {
    const { listener, peer, upgrade } = await starttlsServer();
    const plain = await Client.connect(listener.port);
    plain.socket.write(STARTTLS);
    await plain.waitFor(PROCEED);
    const server = await peer();
    expect(server.transport.secure).toBe(false);

    const client = await upgradeClient(plain);
    await upgrade;
    expect(server.transport.secure).toBe(true);
    expect(server.transport.kind).toBe('tcp');

    client.socket.write("<stream:stream to='example.org'>");
    await eventually(() => (text(server).endsWith("<stream:stream to='example.org'>") ? true : undefined));
    server.transport.send("<stream:stream from='example.org'>");
    await client.waitFor("<stream:stream from='example.org'>");
    expect(text(server)).toBe(`${STARTTLS}<stream:stream to='example.org'>`);
  });

  it('drops plaintext the client sends after <starttls/> and before the handshake (injection)', async () => {
    const { listener, logger, peer, upgrade } = await starttlsServer();
    const plain = await Client.connect(listener.port);
    plain.socket.write(STARTTLS);
    const server = await peer();
    // The server has called startTls() once <proceed/> arrives; what follows is written before the
    // ClientHello, on the same TCP stream, as an attacker on the path or a broken client would.
    await plain.waitFor(PROCEED);
    plain.socket.write(INJECTED);
    const client = await upgradeClient(plain);
    await upgrade;
    client.socket.write('<after-tls/>');
    await eventually(() => (text(server).endsWith('<after-tls/>') ? true : undefined));

    expect(text(server)).toBe(`${STARTTLS}<after-tls/>`);
    expect(text(server)).not.toContain('injected');
    expect(logger.records).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        fields: expect.objectContaining({ discarded: Buffer.byteLength(INJECTED) }) as unknown,
      }),
    );
  });

  it('drops plaintext sent in separate writes before <proceed/> was read', async () => {
    const { listener, peer, upgrade } = await starttlsServer();
    const plain = await Client.connect(listener.port);
    plain.socket.write(STARTTLS);
    const server = await peer();
    // Wait until the server has taken <starttls/> (and so called startTls) without reading <proceed/>.
    await eventually(() => (text(server).includes('<starttls') ? true : undefined));
    plain.socket.write(INJECTED);
    plain.socket.write('<message to="victim@example.org"><body>forged</body></message>');
    await plain.waitFor(PROCEED);
    const client = await upgradeClient(plain);
    await upgrade;
    client.socket.write('<after-tls/>');
    await eventually(() => (text(server).endsWith('<after-tls/>') ? true : undefined));
    expect(text(server)).toBe(`${STARTTLS}<after-tls/>`);
  });

  it('fails startTls() and closes when no handshake comes in time', async () => {
    const { listener, peer, upgrade } = await starttlsServer({ tlsHandshakeTimeoutMs: 100 });
    const plain = await Client.connect(listener.port);
    plain.socket.write(STARTTLS);
    await plain.waitFor(PROCEED);
    await expect(upgrade).rejects.toBeInstanceOf(TlsHandshakeError);
    await plain.closed;
    const server = await peer();
    await eventually(() => (server.closes === 1 ? true : undefined));
    expect(server.transport.secure).toBe(false);
  });

  it('fails startTls() when the handshake is garbage', async () => {
    const { listener, peer, upgrade } = await starttlsServer();
    const plain = await Client.connect(listener.port);
    plain.socket.write(STARTTLS);
    await plain.waitFor(PROCEED);
    plain.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00]));
    plain.socket.write('<not-tls/>'.repeat(10));
    await expect(upgrade).rejects.toBeInstanceOf(TlsHandshakeError);
    await plain.closed;
    const server = await peer();
    await eventually(() => (server.closes === 1 ? true : undefined));
  });

  it('refuses a second STARTTLS', async () => {
    const { listener, peer, upgrade } = await starttlsServer();
    const plain = await Client.connect(listener.port);
    plain.socket.write(STARTTLS);
    await plain.waitFor(PROCEED);
    await upgradeClient(plain);
    await upgrade;
    const server = await peer();
    await expect(server.transport.startTls?.()).rejects.toBeInstanceOf(TransportStateError);
    expect(server.transport.secure).toBe(true);
  });
});

describe('direct TLS (XEP-0368)', () => {
  it('hands over connections after the handshake, secure, without startTls', async () => {
    const { listener, peer } = await listen({ directTls: { cert: certificate.cert, key: certificate.key } });
    const client = await Client.connectTls(listener.port, { ALPNProtocols: ['xmpp-client'] });
    expect(client.alpnProtocol).toBe('xmpp-client');
    const server = await peer();
    expect(server.transport).toMatchObject({ kind: 'tls', framing: 'stream', secure: true });
    expect(server.transport.startTls).toBeUndefined();

    client.socket.write("<stream:stream to='example.org'>");
    await eventually(() => (text(server) === "<stream:stream to='example.org'>" ? true : undefined));
    server.transport.send("<stream:stream from='example.org'>");
    await client.waitFor("<stream:stream from='example.org'>");
    server.transport.close();
    await client.closed;
    await eventually(() => (server.closes === 1 ? true : undefined));
  });

  it('never hands over a connection whose handshake fails, and frees its slot', async () => {
    const { listener, peers } = await listen({
      directTls: { cert: certificate.cert, key: certificate.key },
      maxConnectionsPerIp: 1,
    });
    const plain = await Client.connect(listener.port);
    plain.socket.write("<?xml version='1.0'?><stream:stream to='example.org'>");
    await plain.closed;
    const client = await Client.connectTls(listener.port);
    await eventually(() => (peers.length === 1 ? true : undefined));
    expect(client.ended).toBe(false);
  });
});

describe('maxConnectionsPerIp', () => {
  it('closes further connections from the address at once, without a byte, and logs them', async () => {
    const { listener, logger, peer, peers } = await listen({ maxConnectionsPerIp: 2 });
    await Client.connect(listener.port);
    await Client.connect(listener.port);
    const [first] = await Promise.all([peer(0), peer(1)]);

    const refused = await Client.connect(listener.port);
    await refused.closed;
    expect(refused.received).toBe('');
    expect(peers).toHaveLength(2);
    expect(logger.records).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        fields: expect.objectContaining({ remoteAddress: '127.0.0.1', limit: 2, refused: 1 }) as unknown,
      }),
    );

    // A freed slot takes a new connection.
    first.transport.destroy();
    await eventually(() => (first.closes === 1 ? true : undefined));
    const again = await Client.connect(listener.port);
    await peer(2);
    expect(again.ended).toBe(false);
  });
});

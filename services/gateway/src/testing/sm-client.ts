import { createRequire } from 'node:module';
import { connect } from 'node:net';

import { NS, StreamParser, xml, type Element } from '@holdfast/xmpp';

import { header } from './raw-client.js';

const SM = 'urn:xmpp:sm:3';

/** What the tests use of the `ws` client (the package ships no types). */
interface WsSocket {
  send(data: string): void;
  close(): void;
  terminate(): void;
  readonly readyState: number;
  on(event: 'open' | 'close', listener: () => void): this;
  on(event: 'message', listener: (data: Buffer) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  once(event: 'open', listener: () => void): this;
  once(event: 'error', listener: (error: Error) => void): this;
}
type WsSocketConstructor = new (url: string, protocols?: string[]) => WsSocket;

const WS_OPEN = 1;

/** The transport under the client: a TCP socket, or a WebSocket with RFC 7395 framing. */
interface Link {
  readonly framed: boolean;
  write(data: string): void;
  /** Drops the connection without closing the stream. */
  destroy(): void;
}

/**
 * A scripted XMPP client on a raw TCP socket (or a WebSocket, RFC 7395) that sees the server's output as
 * elements: for the stream management scenarios stock libraries cannot express (they ack on their own
 * and send keepalives). Plaintext with SASL PLAIN: the test gateway allows it (`C2S_REQUIRE_ENCRYPTION=false`).
 */
export class SmClient {
  /** Every top-level element received, in order. */
  readonly received: Element[] = [];
  /** How many of `received` `next` has consumed. */
  private cursor = 0;
  private ended = false;
  private streamClosed = false;
  /** How many elements had arrived when the server ended the stream. */
  streamEndedAfter: number | undefined;
  private readonly parser: StreamParser;

  private constructor(
    private readonly link: Link,
    readonly domain: string,
  ) {
    this.parser = this.newParser();
  }

  private onData(data: Buffer): void {
    this.parser.write(data);
  }

  private onClose(): void {
    this.ended = true;
  }

  private newParser(): StreamParser {
    return new StreamParser(
      {
        streamStart: () => undefined,
        element: (element) => {
          this.received.push(element);
        },
        streamEnd: () => {
          this.streamClosed = true;
          this.streamEndedAfter = this.received.length;
        },
        error: () => {
          this.streamClosed = true;
        },
      },
      { mode: this.link.framed ? 'framed' : 'stream', maxStanzaSize: 1 << 20 },
    );
  }

  /** A TCP connection to the c2s port (nothing sent yet). */
  static async open(port: number, domain = 'localhost'): Promise<SmClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new SmClient(
      {
        framed: false,
        write: (data) => {
          if (!socket.destroyed) socket.write(data);
        },
        destroy: () => socket.destroy(),
      },
      domain,
    );
    socket.on('data', (chunk: Buffer) => {
      client.onData(chunk);
    });
    socket.on('close', () => {
      client.onClose();
    });
    socket.on('error', () => {
      client.onClose();
    });
    return client;
  }

  /** A WebSocket connection (subprotocol `xmpp`) to `url` (nothing sent yet). */
  static async openWebSocket(url: string, domain = 'localhost'): Promise<SmClient> {
    const { WebSocket } = createRequire(import.meta.url)('ws') as { WebSocket: WsSocketConstructor };
    const ws = new WebSocket(url, ['xmpp']);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const client = new SmClient(
      {
        framed: true,
        write: (data) => {
          if (ws.readyState === WS_OPEN) ws.send(data);
        },
        destroy: () => {
          ws.terminate();
        },
      },
      domain,
    );
    ws.on('message', (data) => {
      client.onData(data);
    });
    ws.on('close', () => {
      client.onClose();
    });
    ws.on('error', () => {
      client.onClose();
    });
    return client;
  }

  /** The stream header of this transport: `<stream:stream>` or the framing `<open/>`. */
  private header(): string {
    return this.link.framed
      ? xml('open', { xmlns: NS.FRAMING, to: this.domain, version: '1.0' }).toString()
      : header(this.domain);
  }

  /** Opens a stream, authenticates with SASL PLAIN and restarts the stream (unbound). */
  static async authenticated(port: number, user: string, password: string): Promise<SmClient> {
    return (await SmClient.open(port)).authenticate(user, password);
  }

  /** As `authenticated`, over a WebSocket. */
  static async authenticatedWebSocket(url: string, user: string, password: string): Promise<SmClient> {
    return (await SmClient.openWebSocket(url)).authenticate(user, password);
  }

  /** Sends the stream header and waits for the features. */
  async openStream(): Promise<Element> {
    this.write(this.header());
    return this.next((e) => e.name === 'stream:features' || e.name === 'features');
  }

  /** SASL PLAIN on a fresh connection, then the stream restart (RFC 6120 §6.4.6). */
  private async authenticate(user: string, password: string): Promise<SmClient> {
    await this.openStream();
    const payload = Buffer.from(`\0${user}\0${password}`).toString('base64');
    this.send(xml('auth', { xmlns: 'urn:ietf:params:xml:ns:xmpp-sasl', mechanism: 'PLAIN' }, payload));
    const result = await this.next((e) => e.name === 'success' || e.name === 'failure');
    if (result.name !== 'success') throw new Error(`authentication failed: ${result.toString()}`);
    this.parser.reset();
    await this.openStream();
    return this;
  }

  /** Authenticates and binds `resource`; returns the client with its full JID. */
  static async bound(port: number, user: string, password: string, resource: string): Promise<SmClient> {
    const client = await SmClient.authenticated(port, user, password);
    await client.bind(resource);
    return client;
  }

  jid = '';

  async bind(resource: string): Promise<Element> {
    this.send(
      xml(
        'iq',
        { type: 'set', id: 'bind' },
        xml('bind', { xmlns: 'urn:ietf:params:xml:ns:xmpp-bind' }, xml('resource', {}, resource)),
      ),
    );
    const result = await this.next((e) => e.name === 'iq' && e.attrs.id === 'bind');
    this.jid = result.getChild('bind')?.getChildText('jid') ?? '';
    return result;
  }

  /** `<enable/>` and its answer. */
  async enable(attrs: Record<string, string> = { resume: 'true' }): Promise<Element> {
    this.send(xml('enable', { xmlns: SM, ...attrs }));
    return this.next((e) => e.attrs.xmlns === SM && (e.name === 'enabled' || e.name === 'failed'));
  }

  /** `<r/>` and the `h` of the answer. */
  async requestAck(): Promise<number> {
    this.send(xml('r', { xmlns: SM }));
    const answer = await this.next((e) => e.name === 'a' && e.attrs.xmlns === SM);
    return Number(answer.attrs.h);
  }

  ack(h: number): void {
    this.send(xml('a', { xmlns: SM, h: String(h) }));
  }

  /** Stanzas (message, presence, iq) received so far. */
  get stanzas(): Element[] {
    return this.received.filter((e) => e.name === 'message' || e.name === 'presence' || e.name === 'iq');
  }

  send(element: Element): void {
    this.write(element.toString());
  }

  write(data: string): void {
    this.link.write(data);
  }

  /**
   * The next not yet consumed element matching `predicate` (elements before it stay unconsumed only if
   * they did not match: the cursor moves past the match).
   */
  async next(predicate: (element: Element) => boolean, timeoutMs = 5000): Promise<Element> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let index = this.cursor; index < this.received.length; index++) {
        const element = this.received[index];
        if (element !== undefined && predicate(element)) {
          this.cursor = index + 1;
          return element;
        }
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `no matching element within ${timeoutMs} ms; after ${this.cursor}:\n${this.received
            .slice(this.cursor)
            .map(String)
            .join('\n')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** True if an element matching `predicate` arrives within `ms` (not consumed). */
  async sees(predicate: (element: Element) => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.received.slice(this.cursor).some(predicate)) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  get closed(): boolean {
    return this.ended;
  }

  /** The server sent `</stream:stream>`. */
  get streamEnded(): boolean {
    return this.streamClosed;
  }

  async expectClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() >= deadline) throw new Error(`connection still open after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Closes the stream cleanly (`</stream:stream>`, WebSocket: the framing `<close/>`). */
  closeStream(): void {
    this.write(this.link.framed ? xml('close', { xmlns: NS.FRAMING }).toString() : '</stream:stream>');
  }

  /** "Kill": the connection goes away without `</stream:stream>` (spec §8). */
  kill(): void {
    this.link.destroy();
  }
}

import { connect, type Socket } from 'node:net';

import { StreamParser, xml, type Element } from '@holdfast/xmpp';

import { header } from './raw-client.js';

const SM = 'urn:xmpp:sm:3';

/**
 * A scripted XMPP client on a raw TCP socket that sees the server's output as elements: for the stream
 * management scenarios stock libraries cannot express (they ack on their own and send keepalives).
 * Plaintext with SASL PLAIN: the test gateway allows it (`C2S_REQUIRE_ENCRYPTION=false`).
 */
export class SmClient {
  /** Every top-level element received, in order. */
  readonly received: Element[] = [];
  /** How many of `received` `next` has consumed. */
  private cursor = 0;
  private ended = false;
  private streamClosed = false;
  private readonly parser: StreamParser;

  private constructor(
    private readonly socket: Socket,
    readonly domain: string,
  ) {
    this.parser = this.newParser();
    socket.on('data', (chunk: Buffer) => {
      this.parser.write(chunk);
    });
    socket.on('close', () => {
      this.ended = true;
    });
    socket.on('error', () => {
      this.ended = true;
    });
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
        },
        error: () => {
          this.streamClosed = true;
        },
      },
      { mode: 'stream', maxStanzaSize: 1 << 20 },
    );
  }

  static async open(port: number, domain = 'localhost'): Promise<SmClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new SmClient(socket, domain);
  }

  /** Opens a stream, authenticates with SASL PLAIN and restarts the stream (unbound). */
  static async authenticated(port: number, user: string, password: string): Promise<SmClient> {
    const client = await SmClient.open(port);
    client.write(header(client.domain));
    await client.next((e) => e.name === 'stream:features' || e.name === 'features');
    const payload = Buffer.from(`\0${user}\0${password}`).toString('base64');
    client.send(xml('auth', { xmlns: 'urn:ietf:params:xml:ns:xmpp-sasl', mechanism: 'PLAIN' }, payload));
    const result = await client.next((e) => e.name === 'success' || e.name === 'failure');
    if (result.name !== 'success') throw new Error(`authentication failed: ${result.toString()}`);
    client.parser.reset();
    client.write(header(client.domain));
    await client.next((e) => e.name === 'stream:features' || e.name === 'features');
    return client;
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
    if (!this.socket.destroyed) this.socket.write(data);
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

  /** Closes the stream cleanly (`</stream:stream>`). */
  closeStream(): void {
    this.write('</stream:stream>');
  }

  /** "Kill": the TCP connection goes away without `</stream:stream>` (spec §8). */
  kill(): void {
    this.socket.destroy();
  }
}

// @ts-expect-error -- @xmpp/client 0.14 ships no type declarations; XmppClient below types what tests use.
import { client as createClient } from '@xmpp/client';
import { xml, type Element } from '@holdfast/xmpp';

/** The part of an @xmpp/client instance the tests drive. */
interface XmppClient {
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(element: Element): Promise<void>;
  on(event: 'stanza', listener: (stanza: Element) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  on(event: 'online', listener: (jid: { toString(): string }) => void): void;
  iqCaller: { request(element: Element, timeoutMs?: number): Promise<Element> };
  reconnect: { stop(): void };
}

/** A real XMPP client (xmpp.js) that records every stanza it receives. */
export class TestClient {
  readonly received: Element[] = [];
  jid = '';

  private constructor(readonly xmpp: XmppClient) {
    xmpp.on('stanza', (stanza) => {
      this.received.push(stanza);
    });
    xmpp.on('error', () => {
      // Connection errors surface through start()/waitFor; the event only needs a listener.
    });
  }

  static async connect(options: {
    readonly service: string;
    readonly domain: string;
    readonly username: string;
    readonly password: string;
    readonly resource?: string;
    /** xmpp.js' limit for each step (stream open, STARTTLS, bind); its default 2 s is tight on a loaded machine. */
    readonly timeout?: number;
  }): Promise<TestClient> {
    const xmpp = (createClient as (options: object) => XmppClient)(options);
    xmpp.reconnect.stop();
    const test = new TestClient(xmpp);
    const online = new Promise<void>((resolve) => {
      xmpp.on('online', (jid) => {
        test.jid = jid.toString();
        resolve();
      });
    });
    await xmpp.start();
    await online;
    return test;
  }

  async send(stanza: Element): Promise<void> {
    await this.xmpp.send(stanza);
  }

  /**
   * Sends initial (or updated) presence and waits for the server's echo of it (RFC 6121 §4.2.2), so the
   * resource is routable cluster-wide before the test goes on.
   */
  async available(presence: Element = xml('presence')): Promise<void> {
    const before = this.received.length;
    await this.send(presence);
    await this.waitFor(
      (stanza) =>
        this.received.indexOf(stanza) >= before &&
        stanza.is('presence') &&
        stanza.attrs.from === this.jid &&
        stanza.attrs.type === undefined,
    );
  }

  /** The first received stanza matching `predicate` (waiting up to `timeoutMs`). */
  async waitFor(predicate: (stanza: Element) => boolean, timeoutMs = 5000): Promise<Element> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(predicate);
      if (found !== undefined) return found;
      if (Date.now() >= deadline) {
        throw new Error(
          `no matching stanza within ${timeoutMs} ms; got:\n${this.received.map(String).join('\n')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    await this.xmpp.stop().catch(() => undefined);
  }
}

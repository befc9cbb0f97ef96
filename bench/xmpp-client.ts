import { createConnection, type Socket } from 'node:net';

import { attribute, elementName, escapeXml, localName, StreamSplitter } from './xml-stream-splitter.js';

/**
 * A raw-socket XMPP client for load generation: plain TCP (no TLS), SASL PLAIN, resource binding and
 * XEP-0198 stream management (enable with resumption, resume, answering `<r/>`, requesting acks). Every
 * wait has a timeout. Inbound stanzas that no pending wait claims go to `onStanza`.
 */
export const SM_NS = 'urn:xmpp:sm:3';
const STREAM_HEADER = (domain: string): string =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${escapeXml(domain)}' version='1.0'>`;

export interface InboundElement {
  /** Local name: `message`, `features`, `r`, … */
  readonly name: string;
  readonly xml: string;
}

interface Waiter {
  readonly match: (element: InboundElement) => boolean;
  readonly resolve: (element: InboundElement) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export interface SmEnabled {
  readonly id: string | undefined;
  readonly resume: boolean;
  readonly max: number | undefined;
}

const COUNTED = new Set(['message', 'presence', 'iq']);
const U32 = 2 ** 32;

export class XmppClient {
  /** Called for each inbound stanza (message, presence, iq) not claimed by a wait, with its arrival time. */
  onStanza: ((element: InboundElement, now: number) => void) | undefined;
  /** Stream management is on (after `<enabled/>` or `<resumed/>`). */
  smEnabled = false;
  /** XEP-0198 h: inbound stanzas handled since SM was enabled. */
  inbound = 0;
  /** Outbound stanzas sent since SM was enabled. */
  outbound = 0;
  /** The last h the server acknowledged. */
  serverAcked = 0;
  /** Set once the connection is gone, with the reason. */
  closedReason: string | undefined;

  private readonly splitter = new StreamSplitter();
  private readonly waiters: Waiter[] = [];
  private idCounter = 0;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('data', (chunk: string) => {
      this.receive(chunk);
    });
    socket.on('error', (error) => {
      this.fail(`socket error: ${error.message}`);
    });
    socket.on('close', () => {
      this.fail('connection closed');
    });
  }

  static async connect(host: string, port: number, timeoutMs = 10_000): Promise<XmppClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new XmppClient(socket));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`connect to ${host}:${port}: ${error.message}`));
      });
    });
  }

  /** Connect, open the stream, authenticate with PLAIN and bind `resource` (unless resource is null). */
  static async login(options: {
    readonly host: string;
    readonly port: number;
    readonly domain: string;
    readonly user: string;
    readonly password: string;
    readonly resource: string | null;
    readonly timeoutMs?: number;
  }): Promise<{ client: XmppClient; jid: string | undefined }> {
    const timeoutMs = options.timeoutMs ?? 15_000;
    const client = await XmppClient.connect(options.host, options.port, timeoutMs);
    try {
      await client.openStream(options.domain, timeoutMs);
      await client.authPlain(options.user, options.password, options.domain, timeoutMs);
      const jid = options.resource === null ? undefined : await client.bind(options.resource, timeoutMs);
      return { client, jid };
    } catch (error) {
      client.kill();
      throw error;
    }
  }

  /** Raw write; false when the socket buffer is full (wait for `drained()`). */
  write(data: string): boolean {
    if (this.closedReason !== undefined) return false;
    return this.socket.write(data);
  }

  /** Writes `count` stanzas as one chunk, counting them for SM. */
  sendStanzas(xml: string, count: number): boolean {
    if (this.smEnabled) this.outbound = (this.outbound + count) % U32;
    return this.write(xml);
  }

  async drained(timeoutMs = 10_000): Promise<void> {
    if (!this.socket.writableNeedDrain) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`socket not drained within ${timeoutMs} ms`));
      }, timeoutMs);
      this.socket.once('drain', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.once('close', () => {
        clearTimeout(timer);
        reject(new Error(this.closedReason ?? 'connection closed'));
      });
    });
  }

  /** Waits for the next inbound element `match` accepts (it is then not passed to onStanza). */
  async waitFor(
    what: string,
    match: (element: InboundElement) => boolean,
    timeoutMs: number,
  ): Promise<InboundElement> {
    if (this.closedReason !== undefined) throw new Error(`${what}: ${this.closedReason}`);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.removeWaiter(waiter);
          reject(new Error(`${what}: no answer within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  async openStream(domain: string, timeoutMs: number): Promise<InboundElement> {
    this.splitter.reset();
    const features = this.waitFor('stream features', (e) => e.name === 'features', timeoutMs);
    this.write(STREAM_HEADER(domain));
    return features;
  }

  async authPlain(user: string, password: string, domain: string, timeoutMs: number): Promise<void> {
    const payload = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
    const outcome = this.waitFor(
      'SASL outcome',
      (e) => e.name === 'success' || e.name === 'failure',
      timeoutMs,
    );
    this.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${payload}</auth>`);
    const answer = await outcome;
    if (answer.name !== 'success') throw new Error(`SASL PLAIN failed for ${user}: ${answer.xml}`);
    await this.openStream(domain, timeoutMs);
  }

  async bind(resource: string, timeoutMs: number): Promise<string> {
    const id = this.nextId('bind');
    const result = this.waitFor(
      'bind result',
      (e) => e.name === 'iq' && attribute(e.xml, 'id') === id,
      timeoutMs,
    );
    this.write(
      `<iq type='set' id='${id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${escapeXml(resource)}</resource></bind></iq>`,
    );
    const iq = await result;
    const jid = /<jid>([^<]+)<\/jid>/.exec(iq.xml)?.[1];
    if (attribute(iq.xml, 'type') !== 'result' || jid === undefined)
      throw new Error(`bind failed: ${iq.xml}`);
    return jid;
  }

  async enableSm(resume: boolean, timeoutMs: number): Promise<SmEnabled> {
    const outcome = this.waitFor(
      'SM enable outcome',
      (e) => e.name === 'enabled' || e.name === 'failed',
      timeoutMs,
    );
    this.write(`<enable xmlns='${SM_NS}'${resume ? " resume='true'" : ''}/>`);
    const answer = await outcome;
    if (answer.name !== 'enabled') throw new Error(`SM enable refused: ${answer.xml}`);
    this.smEnabled = true;
    this.inbound = 0;
    this.outbound = 0;
    this.serverAcked = 0;
    const resumable = attribute(answer.xml, 'resume');
    const max = attribute(answer.xml, 'max');
    return {
      id: attribute(answer.xml, 'id'),
      resume: resumable === 'true' || resumable === '1',
      max: max === undefined ? undefined : Number(max),
    };
  }

  /**
   * Sends `<resume/>` (call after authPlain, before any bind) and resolves with the answer time once
   * `<resumed/>` arrives; stanzas the server resends afterwards reach onStanza and count towards h.
   */
  async resume(previd: string, h: number, timeoutMs: number): Promise<{ sentAt: number; resumedAt: number }> {
    const outcome = this.waitFor(
      'SM resume outcome',
      (e) => e.name === 'resumed' || e.name === 'failed',
      timeoutMs,
    );
    this.smEnabled = true;
    this.inbound = h;
    const sentAt = performance.now();
    this.write(`<resume xmlns='${SM_NS}' previd='${escapeXml(previd)}' h='${h}'/>`);
    const answer = await outcome;
    const resumedAt = performance.now();
    if (answer.name !== 'resumed') {
      this.smEnabled = false;
      throw new Error(`SM resume refused: ${answer.xml}`);
    }
    return { sentAt, resumedAt };
  }

  /** Sends `<r/>` and waits until the server's `<a h/>` covers every stanza sent so far. */
  async awaitAllAcked(timeoutMs: number): Promise<void> {
    const target = this.outbound;
    const deadline = performance.now() + timeoutMs;
    while (this.serverAcked !== target) {
      const left = deadline - performance.now();
      if (left <= 0)
        throw new Error(`server acked ${this.serverAcked} of ${target} stanzas within ${timeoutMs} ms`);
      const answer = this.waitFor('SM ack', (e) => e.name === 'a', Math.min(left, 5000));
      this.requestAck();
      await answer.catch((error: unknown) => {
        // Only a slow answer is retried (with a new <r/>); a closed connection ends the wait at once.
        if (this.closedReason !== undefined || performance.now() >= deadline) throw error;
      });
    }
  }

  requestAck(): void {
    this.write(`<r xmlns='${SM_NS}'/>`);
  }

  sendAck(): void {
    this.write(`<a xmlns='${SM_NS}' h='${this.inbound}'/>`);
  }

  /** Ends the stream politely (acking first when SM is on) and waits briefly for the server's close. */
  async close(timeoutMs = 3000): Promise<void> {
    if (this.closedReason !== undefined) return;
    if (this.smEnabled) this.sendAck();
    const closed = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.socket.end('</stream:stream>');
    await closed;
    this.kill();
  }

  /** Drops the TCP connection without closing the stream, as a lost network would. */
  kill(): void {
    this.socket.destroy();
    this.fail('connection killed');
  }

  nextId(prefix: string): string {
    this.idCounter += 1;
    return `${prefix}${this.idCounter}`;
  }

  private receive(chunk: string): void {
    const now = performance.now();
    for (const event of this.splitter.push(chunk)) {
      if (event.kind === 'close') {
        this.socket.end();
        this.fail('server closed the stream');
        return;
      }
      if (event.kind !== 'element') continue;
      const element: InboundElement = { name: localName(elementName(event.xml)), xml: event.xml };
      this.handle(element, now);
    }
  }

  private handle(element: InboundElement, now: number): void {
    const counted = COUNTED.has(element.name);
    if (counted && this.smEnabled) this.inbound = (this.inbound + 1) % U32;
    if (element.name === 'r' && this.smEnabled) {
      this.sendAck();
      return;
    }
    if (element.name === 'a') {
      const h = Number(attribute(element.xml, 'h'));
      if (Number.isFinite(h)) this.serverAcked = h;
    }
    if (element.name === 'error') {
      this.fail(`stream error: ${element.xml}`);
      return;
    }
    for (let i = 0; i < this.waiters.length; i += 1) {
      const waiter = this.waiters[i];
      if (waiter?.match(element) === true) {
        this.waiters.splice(i, 1);
        clearTimeout(waiter.timer);
        waiter.resolve(element);
        return;
      }
    }
    if (counted) this.onStanza?.(element, now);
  }

  private removeWaiter(waiter: Waiter): void {
    const index = this.waiters.indexOf(waiter);
    if (index !== -1) this.waiters.splice(index, 1);
  }

  private fail(reason: string): void {
    this.closedReason ??= reason;
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(reason));
    }
  }
}

import { connect, type Socket } from 'node:net';
import tls from 'node:tls';
import { TextDecoder } from 'node:util';

import {
  NS,
  STANZA_ERROR_CONDITIONS,
  STREAM_CLOSE,
  STREAM_ERROR_CONDITIONS,
  StreamParser,
  type Element,
} from '@holdfast/xmpp';

import {
  bindRequest,
  clientHeader,
  plainAuth,
  scramFirst,
  type FuzzAccount,
  type Outcome,
  type Stage,
} from './fuzz-inputs.js';

/**
 * A raw TCP client for fuzzing: writes whatever it is given, records every byte the server sends and
 * when the server ended the stream and closed the connection. Waiting is event-driven (no polling), so
 * dozens can run at once next to the gateway in the same process.
 */
export class FuzzSocket {
  private readonly received: Buffer[] = [];
  /** `received` as latin1: one character per byte, for finding ASCII markers across chunk boundaries. */
  private view = '';
  private readonly waiters = new Set<() => void>();
  lastDataAt = performance.now();
  /** When the server's FIN (or a reset) arrived. */
  closedAt: number | undefined;
  /** When `<stream:error` first arrived. */
  streamErrorAt: number | undefined;
  /** When `</stream:stream>` first arrived. */
  streamCloseAt: number | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      const before = this.view.length;
      this.received.push(chunk);
      this.view += chunk.toString('latin1');
      this.lastDataAt = performance.now();
      const from = Math.max(0, before - 20);
      if (this.streamErrorAt === undefined && this.view.includes('<stream:error', from))
        this.streamErrorAt = this.lastDataAt;
      if (this.streamCloseAt === undefined && this.view.includes(STREAM_CLOSE, from))
        this.streamCloseAt = this.lastDataAt;
      this.wake();
    });
    const closed = (): void => {
      this.closedAt ??= performance.now();
      this.wake();
    };
    socket.on('end', closed);
    socket.on('close', closed);
    // Writing into a connection the server has just reset: expected, recorded as closed.
    socket.on('error', closed);
  }

  static async open(port: number, timeoutMs: number): Promise<FuzzSocket> {
    const socket = connect({ host: '127.0.0.1', port });
    await settled(socket, 'connect', `no TCP connection within ${timeoutMs} ms`, timeoutMs);
    return new FuzzSocket(socket);
  }

  /**
   * After `<proceed/>`: the same connection over TLS, as a new FuzzSocket. The certificate is not checked:
   * this is for sessions that only need to get past STARTTLS.
   */
  static async startTls(plain: FuzzSocket, timeoutMs: number): Promise<FuzzSocket> {
    const secure = tls.connect({ socket: plain.socket, rejectUnauthorized: false, servername: 'localhost' });
    await settled(secure, 'secureConnect', `no TLS handshake within ${timeoutMs} ms`, timeoutMs);
    return new FuzzSocket(secure);
  }

  /** Bytes received so far. */
  get length(): number {
    return this.view.length;
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  /** Everything received, as bytes. */
  bytes(): Buffer {
    return Buffer.concat(this.received);
  }

  /** Index of an ASCII marker in what was received, at or after byte `from`; -1 if absent. */
  indexOf(marker: string, from = 0): number {
    return this.view.indexOf(marker, from);
  }

  /** Text received from byte `from` on, decoded as UTF-8 (for messages). */
  textFrom(from: number): string {
    return this.bytes().subarray(from).toString('utf8');
  }

  /** Writes one chunk, waiting for the socket to drain; false once the server has closed. */
  async write(data: Buffer | string, timeoutMs: number): Promise<boolean> {
    if (this.closed || !this.socket.writable) return false;
    if (this.socket.write(data)) return true;
    let drained = false;
    this.socket.once('drain', () => {
      drained = true;
      this.wake();
    });
    return this.until(() => drained || this.closed, timeoutMs);
  }

  /** Waits until `predicate` holds (true) or `timeoutMs` passed (false); checked whenever something happens. */
  async until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (predicate()) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await this.change(left);
    }
  }

  /** Waits until the server closed, or sent nothing for `silenceMs`, or `timeoutMs` passed. */
  async quiet(silenceMs: number, timeoutMs: number): Promise<void> {
    const start = performance.now();
    const deadline = start + timeoutMs;
    for (;;) {
      const now = performance.now();
      if (this.closed || now >= deadline) return;
      const idle = now - Math.max(this.lastDataAt, start);
      if (idle >= silenceMs) return;
      await this.change(Math.min(silenceMs - idle, deadline - now));
    }
  }

  destroy(): void {
    this.socket.destroy();
    this.wake();
  }

  private change(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** Waits for `event` on a new socket; destroys it on error or timeout. */
async function settled(socket: Socket, event: string, timeout: string, timeoutMs: number): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(timeout));
      }, timeoutMs);
      socket.once(event, () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error: Error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

const SUCCESS_PATTERN = /<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"(?:\/>|>[^<]*<\/success>)/g;

/** What the preamble of a stage leaves behind: the bound JID, for the bound stage. */
export interface Prepared {
  readonly jid?: string;
}

/**
 * Brings a fresh connection to `stage` the way a correct client would (no STARTTLS: the gateway under
 * test lets plaintext through, except at `tls-required`). Throws with what the server said if it does
 * not get there in time: a gateway that cannot serve a correct client is a failure too.
 */
export async function prepare(
  socket: FuzzSocket,
  stage: Stage,
  account: FuzzAccount,
  nonce: string,
  timeoutMs: number,
): Promise<Prepared> {
  const deadline = performance.now() + timeoutMs;
  const left = (): number => Math.max(0, deadline - performance.now());
  const step = async (what: string, data: string, marker: string, from: number): Promise<number> => {
    if (!(await socket.write(data, left()))) throw new Error(`${what}: connection closed while writing`);
    const found = await socket.until(() => socket.indexOf(marker, from) !== -1 || socket.closed, left());
    const at = socket.indexOf(marker, from);
    if (!found || at === -1) {
      throw new Error(`${what}: no ${marker} within ${timeoutMs} ms; got: ${socket.textFrom(0).slice(-600)}`);
    }
    return at + marker.length;
  };
  if (stage === 'pre-header') return {};
  let at = await step('stream header', clientHeader(account.domain), '</stream:features>', 0);
  if (stage === 'features' || stage === 'tls-required') return {};
  if (stage === 'sasl') {
    await step('SCRAM client-first', scramFirst(account, nonce), '</challenge>', at);
    return {};
  }
  at = await step('PLAIN', plainAuth(account), '<success ', at);
  at = await step('restart', clientHeader(account.domain), '</stream:features>', at);
  if (stage === 'authenticated') return {};
  const bound = await step('bind', bindRequest('fuzz-bind'), '</iq>', at);
  const reply = socket.textFrom(at).slice(0, bound - at);
  const jid = /<jid>([^<]+)<\/jid>/.exec(reply)?.[1];
  if (!reply.includes('type="result"') || jid === undefined) throw new Error(`bind failed: ${reply}`);
  return { jid };
}

export interface StanzaErrorSeen {
  readonly stanza: string;
  readonly id: string | undefined;
  readonly condition: string;
}

/** What the server sent, read as XMPP: the parts the fuzz judges. */
export interface Reading {
  readonly streamErrors: string[];
  readonly stanzaErrors: StanzaErrorSeen[];
  readonly saslFailures: string[];
  /** Ids of iq results and errors, in order. */
  readonly iqReplies: { readonly id: string | undefined; readonly type: string }[];
  readonly proceed: boolean;
  readonly streamClosed: boolean;
  /** Protocol violations by the server. */
  readonly problems: string[];
}

const STREAM_CONDITIONS: ReadonlySet<string> = new Set(STREAM_ERROR_CONDITIONS);
const STANZA_CONDITIONS: ReadonlySet<string> = new Set(STANZA_ERROR_CONDITIONS);
const PROCEED = `<proceed xmlns="${NS.TLS}"/>`;
/** Plaintext XML the server must never send once it said `<proceed/>`. */
const XML_AFTER_PROCEED = /<\/|<(?:stream|iq|message|presence|success|failure|challenge|proceed)\b/;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads the server's side of a connection with the gateway's own stream parser (limits lifted: the
 * server may echo what the client may not send) and checks it against RFC 6120: well-formed, at most
 * one stream error with exactly one defined condition, nothing after `</stream:stream>`, nothing in
 * plaintext after `<proceed/>`, stanza errors with exactly one defined condition.
 */
export function read(output: Buffer): Reading {
  const reading: Reading = {
    streamErrors: [],
    stanzaErrors: [],
    saslFailures: [],
    iqReplies: [],
    proceed: false,
    streamClosed: false,
    problems: [],
  };
  const problem = (text: string): void => {
    reading.problems.push(text);
  };
  let xmlBytes = output;
  const proceedAt = output.indexOf(PROCEED);
  if (proceedAt !== -1) {
    (reading as { proceed: boolean }).proceed = true;
    xmlBytes = output.subarray(0, proceedAt + PROCEED.length);
    const after = output.subarray(proceedAt + PROCEED.length).toString('latin1');
    if (XML_AFTER_PROCEED.test(after))
      problem(`plaintext XML after <proceed/>: ${JSON.stringify(after.slice(0, 200))}`);
  }
  let text: string;
  try {
    text = STRICT_UTF8.decode(xmlBytes);
  } catch {
    problem('output is not UTF-8');
    text = xmlBytes.toString('utf8');
  }
  const close = text.indexOf(STREAM_CLOSE);
  if (close !== -1) {
    (reading as { streamClosed: boolean }).streamClosed = true;
    if (close + STREAM_CLOSE.length !== text.length) {
      problem(`sent data after </stream:stream>: ${JSON.stringify(text.slice(close, close + 200))}`);
    }
  }
  // A stream restarts after SASL success: each piece is one stream as far as a parser is concerned.
  const segments: string[] = [];
  let start = 0;
  for (const match of text.matchAll(SUCCESS_PATTERN)) {
    const end = match.index + match[0].length;
    segments.push(text.slice(start, end));
    start = end;
  }
  segments.push(text.slice(start));
  for (const segment of segments) readSegment(segment, reading, problem);
  if (reading.streamErrors.length > 1) problem(`${reading.streamErrors.length} stream errors`);
  return reading;
}

function readSegment(segment: string, reading: Reading, problem: (text: string) => void): void {
  if (segment === '') return;
  const events: string[] = [];
  const parser = new StreamParser(
    {
      streamStart: () => {
        events.push('start');
      },
      element: (element) => {
        events.push(element.name);
        readElement(element, reading, problem);
      },
      streamEnd: () => {
        events.push('end');
      },
      error: (error) => {
        problem(
          `server output not well-formed (${error.condition}: ${error.text ?? ''}) after ${events.join(',')}`,
        );
      },
    },
    {
      maxStanzaSize: 64 * 1024 * 1024,
      maxDepth: 10_000,
      maxAttributes: 10_000,
      maxAttributeSize: 64 * 1024 * 1024,
    },
  );
  parser.write(segment);
  const error = events.indexOf('error');
  if (error !== -1 && events.slice(error + 1).join(',') !== 'end') {
    problem(
      `after the stream error came ${JSON.stringify(events.slice(error + 1))}, not just </stream:stream>`,
    );
  }
}

function readElement(element: Element, reading: Reading, problem: (text: string) => void): void {
  const ns = element.attrs.xmlns;
  if (element.name === 'error' && ns === NS.STREAM) {
    const conditions = element.getChildElements().filter((child) => child.attrs.xmlns === NS.STREAM_ERROR);
    const defined = conditions.filter((child) => child.name !== 'text');
    const names = defined.map((child) => child.name);
    reading.streamErrors.push(names.join('+') || '(none)');
    if (defined.length !== 1) problem(`stream error with ${defined.length} conditions: ${names.join(', ')}`);
    for (const name of names) {
      if (!STREAM_CONDITIONS.has(name))
        problem(`stream error condition ${name} is not an RFC 6120 §4.9.3 condition`);
    }
    if (conditions.length - defined.length > 1) problem('stream error with more than one <text/>');
    return;
  }
  if (ns === NS.SASL && element.name === 'failure') {
    reading.saslFailures.push(element.getChildElements()[0]?.name ?? '(none)');
    return;
  }
  if (ns !== NS.CLIENT || !['message', 'presence', 'iq'].includes(element.name)) return;
  const type = element.attrs.type ?? '';
  if (element.name === 'iq' && (type === 'result' || type === 'error')) {
    reading.iqReplies.push({ id: element.attrs.id, type });
  }
  if (type !== 'error') return;
  const error = element.getChild('error');
  const conditions = (error?.getChildElements() ?? []).filter(
    (child) => child.attrs.xmlns === NS.STANZA_ERROR && child.name !== 'text',
  );
  const condition = conditions.map((child) => child.name).join('+') || '(none)';
  reading.stanzaErrors.push({ stanza: element.name, id: element.attrs.id, condition });
  if (conditions.length !== 1 || !STANZA_CONDITIONS.has(condition)) {
    problem(`stanza error with condition ${condition}: not exactly one RFC 6120 §8.3.3 condition`);
  }
}

/**
 * The outcome of a connection from what the server sent up to the end of the observation, before any
 * probe: see `Outcome`.
 */
export function outcomeOf(reading: Reading, closed: boolean): Outcome {
  if (reading.proceed) return 'tls';
  const condition = reading.streamErrors[0];
  if (condition !== undefined) return `stream-error:${condition}` as Outcome;
  if (reading.streamClosed) return 'clean-close';
  return closed ? 'closed-silently' : 'open';
}

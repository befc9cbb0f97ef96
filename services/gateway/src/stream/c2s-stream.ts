import { randomBytes } from 'node:crypto';

import { SaslFailure, decodeSaslPayload, encodeSaslPayload, offeredMechanisms } from '@holdfast/sasl';
import {
  NS,
  STREAM_CLOSE,
  StreamError,
  StreamParser,
  closeElement,
  errorReply,
  openElement,
  parseJid,
  serialize,
  streamErrorElement,
  streamHeader,
  xml,
  type Element,
  type Jid,
  type StanzaErrorInit,
} from '@holdfast/xmpp';

import type { SaslExchange } from '../auth/sasl-exchange.js';
import type { Transport } from '../transport/transport.js';
import { validateClientStanza } from './validate.js';

/** What a stream needs from the gateway around it. */
export interface StreamHost {
  readonly domain: string;
  readonly requireEncryption: boolean;
  readonly allowPlainWithoutTls: boolean;
  readonly maxStanzaSize: number;
  /** Time allowed from connect to a bound resource (denial of service by idle connections). */
  readonly setupTimeoutMs: number;
  readonly logger: StreamLogger;
  newSaslExchange(secure: boolean): SaslExchange;
  /** True when this address or account may not try to authenticate now (too many failures). */
  authBlocked(remoteAddress: string, account: string | undefined): boolean;
  authFailed(remoteAddress: string, account: string | undefined): void;
  /** Binds a resource for the authenticated account: the full JID, or the bind error to answer. */
  bind(stream: C2sStream, account: string, requested: string | undefined): Promise<Jid | StanzaErrorInit>;
  /**
   * A validated stanza from the bound client, `from` stamped: the one place inbound stanzas go. `seq`
   * counts the stanzas read on this stream after binding (1, 2, ...), in input order.
   */
  inbound(stream: C2sStream, stanza: Element, seq: number): Promise<void>;
  /** A stanza was written to the client (`seq` counts them per stream): the outbound event. */
  sent(stream: C2sStream, stanza: Element, seq: number): void;
  /** The stream is gone (after close or transport loss); called once. */
  ended(stream: C2sStream, reason: EndReason): void;
}

export interface StreamLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Why a stream ended (the `connection.closed` reasons of the event catalog). */
export type EndReason =
  | { readonly kind: 'clean' }
  | { readonly kind: 'unclean' }
  | { readonly kind: 'replaced' }
  | { readonly kind: 'error'; readonly condition: string };

type Phase = 'header' | 'negotiating' | 'bound' | 'closed';

/**
 * One client stream (RFC 6120): stream headers and restarts, STARTTLS (§5), SASL (§6), resource binding
 * (§7), then stanzas. Every stanza read goes through `handleElement` → `host.inbound`, every stanza
 * written through `deliver`, so stream management can hook both in one place.
 */
export class C2sStream {
  /** Session id: unique, also the stream id sent in the header. */
  readonly id = randomBytes(12).toString('base64url');
  private phase: Phase = 'header';
  private headerSent = false;
  private parser: StreamParser;
  private account: string | undefined;
  private sasl: SaslExchange | undefined;
  private boundJid: Jid | undefined;
  /** Inbound stanzas are handled strictly in order (RFC 6120 §10.1), one at a time. */
  private inboundChain: Promise<void> = Promise.resolve();
  private upgrading = false;
  private endReason: EndReason = { kind: 'unclean' };
  private readonly setupTimer: NodeJS.Timeout;
  /** RFC 6121 §4.2: initial presence sent and not made unavailable since. */
  available = false;
  priority = 0;
  /** XEP-0352 client state. */
  csiActive = true;
  /**
   * RFC 6121 §4.6: entities the client sent directed available presence to; they get its unavailable
   * presence when it goes offline.
   */
  readonly directedPresence = new Set<string>();
  private sentCount = 0;
  private receivedCount = 0;

  constructor(
    readonly transport: Transport,
    private readonly host: StreamHost,
  ) {
    this.parser = this.newParser();
    transport.onData((chunk) => {
      if (!this.upgrading) this.parser.write(chunk);
    });
    transport.onClose(() => {
      this.finish();
    });
    this.setupTimer = setTimeout(() => {
      if (this.boundJid === undefined)
        this.fail(new StreamError('connection-timeout', { text: 'no session in time' }));
    }, host.setupTimeoutMs);
  }

  get jid(): Jid | undefined {
    return this.boundJid;
  }

  get secure(): boolean {
    return this.transport.secure;
  }

  /** The one place stanzas are written to the client. */
  deliver(stanza: Element): void {
    if (this.phase !== 'bound') return;
    this.write(stanza);
    this.sentCount += 1;
    this.host.sent(this, stanza, this.sentCount);
  }

  /** Ends the stream with a stream error (RFC 6120 §4.9), e.g. `conflict` when replaced. */
  fail(error: StreamError, reason: EndReason = { kind: 'error', condition: error.condition }): void {
    if (this.phase === 'closed') return;
    this.endReason = reason;
    if (!this.headerSent) this.sendHeader();
    this.write(streamErrorElement(error));
    this.closeStream();
  }

  private newParser(): StreamParser {
    return new StreamParser(
      {
        streamStart: (attrs) => {
          this.onStreamStart(attrs);
        },
        element: (element) => {
          this.handleElement(element);
        },
        streamEnd: () => {
          this.endReason = { kind: 'clean' };
          this.closeStream();
        },
        error: (error) => {
          this.host.logger.warn(
            { session: this.id, condition: error.condition, text: error.text },
            'stream error from input',
          );
          this.fail(error);
        },
      },
      { mode: this.transport.framing, maxStanzaSize: this.host.maxStanzaSize },
    );
  }

  /** RFC 6120 §4.7: answer the client's header with ours, then the features for this stage. */
  private onStreamStart(attrs: Readonly<Record<string, string>>): void {
    this.sendHeader();
    if (attrs.to === undefined || safeDomain(attrs.to) !== this.host.domain) {
      this.fail(new StreamError('host-unknown'));
      return;
    }
    if (attrs.version === undefined || Number.parseFloat(attrs.version) < 1) {
      this.fail(new StreamError('unsupported-version'));
      return;
    }
    this.phase = 'negotiating';
    this.write(this.features());
  }

  private sendHeader(): void {
    this.headerSent = true;
    const header = { from: this.host.domain, id: this.id, lang: 'en' };
    if (this.transport.framing === 'framed') this.write(openElement(header));
    else this.transport.send(streamHeader(header));
  }

  private tlsPending(): boolean {
    return this.transport.startTls !== undefined && !this.transport.secure;
  }

  private features(): Element {
    const features = xml('stream:features', { 'xmlns:stream': NS.STREAM });
    if (this.account === undefined) {
      if (this.tlsPending()) {
        features.append(
          xml('starttls', { xmlns: NS.TLS }, this.host.requireEncryption ? xml('required') : null),
        );
      }
      if (!this.tlsPending() || !this.host.requireEncryption) {
        const mechanisms = offeredMechanisms({
          tls: this.secure,
          allowPlainWithoutTls: this.host.allowPlainWithoutTls,
        });
        features.append(
          xml('mechanisms', { xmlns: NS.SASL }, ...mechanisms.map((m) => xml('mechanism', {}, m))),
        );
      }
    } else {
      features.append(
        xml('bind', { xmlns: NS.BIND }),
        xml('session', { xmlns: NS.SESSION }, xml('optional')),
        xml('csi', { xmlns: NS.CSI }),
      );
    }
    return features;
  }

  /**
   * Runs work for the client's input strictly in order (RFC 6120 §10.1). A task that fails unexpectedly
   * ends this stream with `internal-server-error`; it never escapes as an unhandled rejection.
   */
  private enqueue(task: () => Promise<void>): void {
    this.inboundChain = this.inboundChain.then(task).catch((error: unknown) => {
      this.host.logger.error({ session: this.id, err: error }, 'stream task failed');
      this.fail(new StreamError('internal-server-error'));
    });
  }

  private handleElement(element: Element): void {
    if (this.phase !== 'negotiating' && this.phase !== 'bound') return;
    const ns = element.attrs.xmlns;
    // RFC 6120 §4.9.1.1: the client gave up on the stream; answer by closing ours.
    if (element.name === 'error' && ns === NS.STREAM) {
      const condition = element.getChildElements()[0]?.name ?? 'undefined-condition';
      this.host.logger.info({ session: this.id, condition }, 'stream error from the client');
      this.endReason = { kind: 'error', condition: `client:${condition}` };
      this.closeStream();
      return;
    }
    if (ns === NS.TLS && element.name === 'starttls' && this.account === undefined && this.tlsPending()) {
      void this.startTls();
      return;
    }
    if (this.account === undefined) {
      this.beforeAuth(element);
      return;
    }
    if (this.boundJid === undefined) {
      this.beforeBind(element);
      return;
    }
    if (isStanza(element)) {
      this.receivedCount += 1;
      const seq = this.receivedCount;
      this.enqueue(() => this.handleStanza(element, seq));
      return;
    }
    if (ns === NS.CSI && (element.name === 'active' || element.name === 'inactive')) {
      this.csiActive = element.name === 'active';
      return;
    }
    this.fail(
      new StreamError('unsupported-stanza-type', { text: `<${element.name}/> in ${ns ?? 'no namespace'}` }),
    );
  }

  /** RFC 6120 §5.4.3.3: `<proceed/>`, then TLS on the same connection and a fresh stream. */
  private async startTls(): Promise<void> {
    const upgrade = this.transport.startTls;
    if (upgrade === undefined) return;
    this.write(xml('proceed', { xmlns: NS.TLS }));
    // Whatever followed <starttls/> in plaintext is discarded: it must never reach the new stream.
    this.upgrading = true;
    this.parser.reset();
    try {
      await upgrade();
    } catch (error) {
      this.host.logger.warn({ session: this.id, err: error }, 'TLS handshake failed');
      this.transport.destroy();
      return;
    }
    this.upgrading = false;
    this.phase = 'header';
    this.headerSent = false;
  }

  private beforeAuth(element: Element): void {
    if (element.attrs.xmlns === NS.SASL) {
      void this.saslStep(element);
      return;
    }
    if (this.tlsPending() && this.host.requireEncryption) {
      this.fail(new StreamError('policy-violation', { text: 'STARTTLS is required' }));
      return;
    }
    this.fail(new StreamError('not-authorized'));
  }

  /** RFC 6120 §6.4: `<auth/>`, `<response/>`, `<abort/>`. */
  private async saslStep(element: Element): Promise<void> {
    const address = this.transport.remoteAddress;
    if (this.tlsPending() && this.host.requireEncryption) {
      this.write(saslFailure(new SaslFailure('encryption-required')));
      return;
    }
    try {
      if (element.name === 'abort') {
        this.sasl = undefined;
        throw new SaslFailure('aborted');
      }
      let step;
      if (element.name === 'auth') {
        if (this.host.authBlocked(address, undefined)) {
          throw new SaslFailure('temporary-auth-failure', 'too many failed attempts; try again later');
        }
        this.sasl = this.host.newSaslExchange(this.secure);
        step = await this.sasl.begin(element.attrs.mechanism ?? '', decodeSaslPayload(element.getText()));
      } else if (element.name === 'response' && this.sasl !== undefined) {
        step = await this.sasl.respond(decodeSaslPayload(element.getText()));
      } else {
        throw new SaslFailure('malformed-request', `unexpected <${element.name}/>`);
      }
      if (step.kind === 'challenge') {
        this.write(
          xml('challenge', { xmlns: NS.SASL }, step.data.length === 0 ? null : encodeSaslPayload(step.data)),
        );
        return;
      }
      if (this.host.authBlocked(address, step.identity)) {
        throw new SaslFailure('temporary-auth-failure', 'too many failed attempts; try again later');
      }
      this.account = step.identity;
      this.sasl = undefined;
      this.write(
        xml('success', { xmlns: NS.SASL }, step.data === undefined ? null : encodeSaslPayload(step.data)),
      );
      // RFC 6120 §6.4.6: both sides restart the stream; nothing after <success/> belongs to the old one.
      this.parser.reset();
      this.phase = 'header';
      this.headerSent = false;
    } catch (error) {
      if (!(error instanceof SaslFailure)) {
        this.host.logger.error({ session: this.id, err: error }, 'authentication failed internally');
        this.write(saslFailure(new SaslFailure('temporary-auth-failure')));
        this.sasl = undefined;
        return;
      }
      if (error.condition === 'not-authorized') this.host.authFailed(address, this.sasl?.account);
      this.host.logger.info(
        { session: this.id, condition: error.condition, address },
        'authentication failed',
      );
      this.sasl = undefined;
      this.write(saslFailure(error));
    }
  }

  /** RFC 6120 §7: only a bind request is meaningful between authentication and binding. */
  private beforeBind(element: Element): void {
    const bind = element.getChild('bind', NS.BIND);
    if (element.name === 'iq' && element.attrs.type === 'set' && bind !== undefined) {
      this.enqueue(() => this.bind(element, bind));
      return;
    }
    this.fail(new StreamError('not-authorized', { text: 'bind a resource first' }));
  }

  private async bind(request: Element, bind: Element): Promise<void> {
    const account = this.account;
    if (account === undefined || this.phase === 'closed') return;
    if (this.phase === 'bound') {
      // A second bind pipelined before the first result: one resource per stream (RFC 6120 §7.1).
      const reply = errorReply(request, {
        type: 'cancel',
        condition: 'not-allowed',
        text: 'a resource is bound already',
      });
      if (reply !== undefined) this.write(reply);
      return;
    }
    const requested = bind.getChildText('resource') ?? undefined;
    let result: Jid | StanzaErrorInit;
    try {
      result = await this.host.bind(this, account, requested === '' ? undefined : requested);
    } catch (error) {
      this.host.logger.error({ session: this.id, err: error }, 'bind failed');
      result = { type: 'wait', condition: 'internal-server-error' };
    }
    // The stream may have ended while the claim was in flight (TypeScript cannot see that across await).
    if ((this.phase as Phase) !== 'negotiating') return;
    if ('condition' in result) {
      const reply = errorReply(request, result);
      if (reply !== undefined) this.write(reply);
      return;
    }
    this.boundJid = result;
    this.phase = 'bound';
    clearTimeout(this.setupTimer);
    this.write(
      xml(
        'iq',
        { type: 'result', id: request.attrs.id },
        xml('bind', { xmlns: NS.BIND }, xml('jid', {}, result.toString())),
      ),
    );
  }

  private async handleStanza(stanza: Element, seq: number): Promise<void> {
    const jid = this.boundJid;
    if (jid === undefined || this.phase !== 'bound') return;
    const checked = validateClientStanza(stanza, jid);
    if (checked.kind === 'stream-error') {
      this.fail(checked.error);
      return;
    }
    if (checked.kind === 'reply') {
      if (checked.stanza !== undefined) this.deliver(checked.stanza);
      return;
    }
    // RFC 3921 §3 legacy session establishment: accepted as a no-op (RFC 6121 Appendix E).
    if (
      stanza.name === 'iq' &&
      stanza.attrs.type === 'set' &&
      stanza.getChild('session', NS.SESSION) !== undefined
    ) {
      this.deliver(
        xml('iq', { type: 'result', id: stanza.attrs.id, from: this.host.domain, to: jid.toString() }),
      );
      return;
    }
    try {
      await this.host.inbound(this, checked.stanza, seq);
    } catch (error) {
      this.host.logger.error({ session: this.id, err: error }, 'stanza handling failed');
      const reply = errorReply(checked.stanza, { type: 'wait', condition: 'internal-server-error' });
      if (reply !== undefined) this.deliver(reply);
    }
  }

  private write(element: Element): void {
    this.transport.send(serialize(element));
  }

  /** Closes our side: `</stream:stream>` (TCP) or `<close/>` (WebSocket), then the transport. */
  private closeStream(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    if (this.transport.framing === 'framed') this.write(closeElement());
    else this.transport.send(STREAM_CLOSE);
    this.transport.close();
    this.finish();
  }

  private finished = false;

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.phase = 'closed';
    clearTimeout(this.setupTimer);
    this.host.ended(this, this.endReason);
  }
}

function isStanza(element: Element): boolean {
  return (
    (element.name === 'message' || element.name === 'presence' || element.name === 'iq') &&
    element.attrs.xmlns === NS.CLIENT
  );
}

function saslFailure(failure: SaslFailure): Element {
  return xml(
    'failure',
    { xmlns: NS.SASL },
    xml(failure.condition),
    failure.text === undefined ? null : xml('text', { 'xml:lang': 'en' }, failure.text),
  );
}

function safeDomain(value: string): string | undefined {
  try {
    return parseJid(value).domain;
  } catch {
    return undefined;
  }
}

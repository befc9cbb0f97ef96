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
import type { SmConnection, SmEnd, SmSession } from '../sm/sm-session.js';
import type { EnableOutcome, ResumeOutcome } from '../sm/stream-management.js';
import type { Transport } from '../transport/transport.js';
import { validateClientStanza } from './validate.js';
import { ackElement, failedElement } from '@holdfast/sm';

/** A stanza handed on: `delivered` settles when its delivery is done (durable, stored or answered). */
export interface Handoff {
  readonly delivered: Promise<void>;
}

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
   * counts the stanzas read on this stream after binding (1, 2, ...), in input order. Resolves once the
   * stanza is handed on (the next one may be handled then), to its delivery still under way, if any.
   */
  inbound(stream: C2sStream, stanza: Element, seq: number): Promise<Handoff | undefined>;
  /** A stanza was written to the client (`seq` counts them per stream): the outbound event (SM off). */
  sent(stream: C2sStream, stanza: Element, seq: number): void;
  /** XEP-0198 is offered after authentication (spec §1.1). */
  readonly smOffered: boolean;
  /** `<enable/>` (T1/T2). */
  enableSm(stream: C2sStream, element: Element): Promise<EnableOutcome>;
  /** `<resume/>` (T2/T3/T8/T12): on success the session is committed to this stream and the old one kicked. */
  resumeSm(stream: C2sStream, element: Element): Promise<ResumeOutcome>;
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
  /** Stream id: unique, sent in the header. */
  readonly id = randomBytes(12).toString('base64url');
  /** Routing session id: the stream id, or the resumed stream-management session's (spec §2.3 step 5). */
  sessionId = this.id;
  /** XEP-0198 session attached to this stream. */
  sm: SmSession | undefined;
  /** Why the SM session stopped being this stream's, when it did so on its own (T12, T15, misuse). */
  smEnd: SmEnd | undefined;
  /** Enable or resume in flight: input waits (spec §1.3), in order. */
  private suspended: Element[] | undefined;
  private phase: Phase = 'header';
  private headerSent = false;
  private parser: StreamParser;
  private authenticatedAs: string | undefined;
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
      this.sm?.onData();
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

  /** The authenticated account (bare JID), once SASL succeeded. */
  get account(): string | undefined {
    return this.authenticatedAs;
  }

  get secure(): boolean {
    return this.transport.secure;
  }

  /** The one place stanzas are written to the client (see `deliverDurably`). */
  deliver(stanza: Element): void {
    void this.deliverDurably(stanza);
  }

  /**
   * Writes a stanza to the client; with SM on, once its event is durable (invariant 2). Resolves true
   * when the stream took it (for SM: it is in the session's log), false when the stream cannot.
   */
  deliverDurably(stanza: Element, delivery?: string): Promise<boolean> {
    // An SM session adopted by a resume in progress takes stanzas already: they are written after
    // `<resumed/>` with the re-sent ones (spec §2.3 step 7).
    if (this.sm !== undefined) return this.sm.send(stanza, delivery);
    if (this.phase !== 'bound') return Promise.resolve(false);
    this.write(stanza);
    this.sentCount += 1;
    this.host.sent(this, stanza, this.sentCount);
    return Promise.resolve(true);
  }

  /** Ends the stream with a stream error (RFC 6120 §4.9), e.g. `conflict` when replaced. */
  fail(error: StreamError, reason: EndReason = { kind: 'error', condition: error.condition }): void {
    if (this.phase === 'closed') return;
    this.endReason = reason;
    if (!this.headerSent) this.sendHeader();
    this.finalAck();
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
    if (this.authenticatedAs === undefined) {
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
      if (this.host.smOffered) features.append(xml('sm', { xmlns: NS.SM }));
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
    if (this.suspended !== undefined) {
      this.suspended.push(element);
      return;
    }
    const ns = element.attrs.xmlns;
    // RFC 6120 §4.9.1.1: the client gave up on the stream; answer by closing ours.
    if (element.name === 'error' && ns === NS.STREAM) {
      const condition = element.getChildElements()[0]?.name ?? 'undefined-condition';
      this.host.logger.info({ session: this.id, condition }, 'stream error from the client');
      this.endReason = { kind: 'error', condition: `client:${condition}` };
      this.closeStream();
      return;
    }
    if (
      ns === NS.TLS &&
      element.name === 'starttls' &&
      this.authenticatedAs === undefined &&
      this.tlsPending()
    ) {
      void this.startTls();
      return;
    }
    if (ns === NS.SM && this.host.smOffered && this.smElement(element)) return;
    if (this.authenticatedAs === undefined) {
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
      const sm = this.sm;
      if (sm === undefined) {
        this.enqueue(async () => {
          await this.handleStanza(element, seq);
        });
        return;
      }
      // Spec §1.3: handled in order; counted once its delivery and then its event are durable, while
      // the next stanzas are handled already.
      const h = sm.nextH();
      this.enqueue(async () => {
        sm.handled(element, h, (await this.handleStanza(element, seq)).delivered);
      });
      return;
    }
    if (ns === NS.CSI && (element.name === 'active' || element.name === 'inactive')) {
      this.csiActive = element.name === 'active';
      this.sm?.csi(this.csiActive);
      return;
    }
    this.fail(
      new StreamError('unsupported-stanza-type', { text: `<${element.name}/> in ${ns ?? 'no namespace'}` }),
    );
  }

  /**
   * XEP-0198 nonzas (spec §1.2, §1.4, §1.5); true when handled. `<r/>`/`<a/>` without SM, or any other
   * element in the namespace, fall through to `unsupported-stanza-type`.
   */
  private smElement(element: Element): boolean {
    const facts = { authenticated: this.authenticatedAs !== undefined, bound: this.boundJid !== undefined };
    switch (element.name) {
      case 'enable':
        if (facts.authenticated && facts.bound && this.sm === undefined) {
          this.suspendFor(() => this.enableSm(element));
          return true;
        }
        this.write(
          failedElement({ condition: facts.authenticated ? 'unexpected-request' : 'service-unavailable' }),
        );
        return true;
      case 'resume':
        if (!facts.authenticated) {
          this.write(failedElement({ condition: 'not-authorized' }));
          return true;
        }
        if (facts.bound) {
          this.write(failedElement({ condition: 'unexpected-request' }));
          return true;
        }
        this.suspendFor(() => this.resumeSm(element));
        return true;
      case 'r': {
        const sm = this.sm;
        if (sm === undefined) return false;
        // Answered once every stanza read before it is durable and counted (§1.3).
        this.enqueue(async () => {
          await sm.counted();
          if (sm.attached) sm.answerRequest();
        });
        return true;
      }
      case 'a':
        if (this.sm === undefined) return false;
        this.sm.handleAck(element);
        return true;
      default:
        return false;
    }
  }

  /** Stops reading until `task` is done (spec §1.3), then handles what arrived meanwhile, in order. */
  private suspendFor(task: () => Promise<void>): void {
    this.suspended ??= [];
    this.enqueue(async () => {
      try {
        await task();
      } finally {
        const held = this.suspended ?? [];
        this.suspended = undefined;
        for (const element of held) this.handleElement(element);
      }
    });
  }

  private async enableSm(element: Element): Promise<void> {
    const outcome = await this.host.enableSm(this, element);
    if (this.phase !== 'bound') return;
    this.write(outcome.reply);
    if (outcome.kind === 'enabled') this.sm = outcome.sm;
  }

  private async resumeSm(element: Element): Promise<void> {
    const outcome = await this.host.resumeSm(this, element);
    if (this.phase === 'closed') {
      if (outcome.kind === 'resumed') outcome.sm.kickResumedElsewhere();
      return;
    }
    if (outcome.kind === 'failed') {
      this.write(outcome.reply);
      return;
    }
    this.sm = outcome.sm;
    this.sessionId = outcome.sm.session;
    this.boundJid = outcome.jid;
    this.phase = 'bound';
    clearTimeout(this.setupTimer);
    this.write(outcome.reply);
    outcome.sm.resendAfterResume();
  }

  /**
   * §2.3 step 3-5: a resume committed for this stream; stanzas for the session go to it from now on,
   * while the old connection is kicked and `<resumed/>` is not written yet.
   */
  adopt(sm: SmSession): void {
    this.sm = sm;
    this.sessionId = sm.session;
  }

  /** What a stream-management session uses to reach its connection. */
  smConnection(): SmConnection {
    return {
      write: (element) => {
        if (this.phase === 'bound') this.write(element);
      },
      fail: (error) => {
        this.fail(error);
      },
      drop: () => {
        this.transport.destroy();
      },
    };
  }

  /** Spec §1.5: a final `<a h/>` before any close of an SM stream that is still writable. */
  private finalAck(): void {
    const sm = this.sm;
    if (sm?.attached !== true || this.phase !== 'bound' || this.finalAckSent) return;
    this.finalAckSent = true;
    this.write(ackElement(sm.inboundH));
  }

  private finalAckSent = false;

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
      this.authenticatedAs = step.identity;
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
    const account = this.authenticatedAs;
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

  /**
   * Handles a stanza, in input order; resolves once it is handed on, to its delivery (durable in its
   * target's log, stored, or answered), which never rejects: a failure is answered to the client.
   */
  private async handleStanza(stanza: Element, seq: number): Promise<Handoff> {
    const jid = this.boundJid;
    if (jid === undefined || this.phase !== 'bound') return DONE;
    const checked = validateClientStanza(stanza, jid);
    if (checked.kind === 'stream-error') {
      this.fail(checked.error);
      return DONE;
    }
    if (checked.kind === 'reply') {
      if (checked.stanza !== undefined) this.deliver(checked.stanza);
      return DONE;
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
      return DONE;
    }
    const failed = (error: unknown): void => {
      this.host.logger.error({ session: this.id, err: error }, 'stanza handling failed');
      const reply = errorReply(checked.stanza, { type: 'wait', condition: 'internal-server-error' });
      if (reply !== undefined) this.deliver(reply);
    };
    try {
      const handoff = await this.host.inbound(this, checked.stanza, seq);
      return { delivered: (handoff?.delivered ?? Promise.resolve()).catch(failed) };
    } catch (error) {
      failed(error);
      return DONE;
    }
  }

  private write(element: Element): void {
    this.transport.send(serialize(element));
  }

  /** Closes our side: `</stream:stream>` (TCP) or `<close/>` (WebSocket), then the transport. */
  private closeStream(): void {
    if (this.phase === 'closed') return;
    this.finalAck();
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

const DONE: Handoff = { delivered: Promise.resolve() };

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

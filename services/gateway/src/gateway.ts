import { randomBytes } from 'node:crypto';

import type { Bus, Service } from '@holdfast/bus';
import {
  ConnectionBound,
  ConnectionClosed,
  ConnectionOpened,
  GatewayDeliver,
  GatewayKick,
  SmTerminate,
  SmUnackedDispose,
  SmUnackedOutcome,
  StanzaReceived,
  StanzaSent,
  type ReplyOf,
} from '@holdfast/events';
import { SessionLog } from '@holdfast/session-log';
import {
  decideOutcomes,
  hasOwnStanzaId,
  type RoutedOutcome,
  type TerminatedKind,
  type UnackedMessagePolicy,
} from '@holdfast/sm';
import { metrics } from '@opentelemetry/api';
import { BusTimeoutError, NoRespondersError } from '@holdfast/bus';
import {
  NS,
  StreamError,
  errorReply,
  parseJid,
  serialize,
  xml,
  type Element,
  type Jid,
  type StanzaErrorInit,
} from '@holdfast/xmpp';

import type { Accounts } from './auth/accounts.js';
import { SaslExchange } from './auth/sasl-exchange.js';
import { FailureThrottle } from './auth/throttle.js';
import type { Mam } from './mam/mam-service.js';
import type { OfflineStore } from './offline/offline-store.js';
import { RosterService } from './roster-service.js';
import { subscriptionTypeOf, type RosterRepository } from './roster/index.js';
import { HIBERNATING, type ResourceRecord, type ResourceRegistry } from './routing/registry.js';
import { route } from './routing/rules.js';
import {
  C2sStream,
  type EndReason,
  type Handoff,
  type StreamHost,
  type StreamLogger,
} from './stream/c2s-stream.js';
import { serverIq } from './server-iq.js';
import { parseStanza } from './stanza-text.js';
import type { Transport } from './transport/transport.js';
import type { SmEnd } from './sm/sm-session.js';
import { WorkLimit } from './sm/work-limit.js';
import {
  StreamManagement,
  parsePrevid,
  type EnableOutcome,
  type FromLog,
  type ResumeOutcome,
  type StreamManagementConfig,
  type TerminateGuard,
} from './sm/stream-management.js';

export interface GatewayOptions {
  readonly node: string;
  readonly domain: string;
  readonly requireEncryption: boolean;
  readonly allowPlainWithoutTls: boolean;
  readonly maxStanzaSize: number;
  readonly authMaxFailures: number;
  readonly authFailureWindowS: number;
  readonly setupTimeoutMs?: number;
  /** Stream management (spec §3). */
  readonly sm: StreamManagementConfig & { readonly unackedMessagePolicy: UnackedMessagePolicy };
}

export interface GatewayDeps {
  readonly bus: Bus;
  readonly registry: ResourceRegistry;
  readonly accounts: Accounts;
  readonly offline: OfflineStore;
  readonly roster: RosterRepository;
  /** XEP-0313: archiving of routed messages and the users' archive queries. */
  readonly mam: Mam;
  readonly logger: StreamLogger;
  readonly now?: () => Date;
}

const meter = metrics.getMeter('@holdfast/gateway');
const streamErrors = meter.createCounter('holdfast.gateway.stream_errors', {
  description: 'streams ended with a stream error, by condition',
});
const authFailures = meter.createCounter('holdfast.gateway.auth_failures', {
  description: 'failed SASL authentications (wrong credentials)',
});
const connections = meter.createUpDownCounter('holdfast.gateway.connections', {
  description: 'open client streams',
});
const mamFlagFailures = meter.createCounter('holdfast.gateway.mam.flag_failures', {
  description: 'SM sessions whose MAM query (spec §4 R7a) could not be logged when SM was enabled',
});

/**
 * One gateway process: its client streams, and the routing that makes several gateways one server.
 * Resources are claimed in the cluster-wide registry; stanzas for a session on another gateway go to it
 * with the targeted `gateway.deliver` command.
 */
export class Gateway implements StreamHost {
  readonly domain: string;
  readonly requireEncryption: boolean;
  readonly allowPlainWithoutTls: boolean;
  readonly maxStanzaSize: number;
  readonly setupTimeoutMs: number;
  readonly logger: StreamLogger;
  private readonly streams = new Set<C2sStream>();
  /** Bound streams by full JID. */
  private readonly bound = new Map<string, C2sStream>();
  private readonly throttle: FailureThrottle;
  private fakeSecret: Buffer = randomBytes(32);
  private readonly services: Service[] = [];
  private readonly terminations = new WorkLimit(TERMINATIONS);
  /** Cleanups of ended streams still running (registry release, unavailable broadcast, event). */
  private readonly cleanups = new Set<Promise<void>>();
  private readonly now: () => Date;
  private readonly roster: RosterService;
  private readonly sm: StreamManagement;
  /** SM sessions whose stream ended and whose hibernation or termination is being written, by full JID. */
  private readonly detaching = new Map<string, Promise<void>>();
  /** SM sessions being resumed here (claim in flight or committed, not yet adopted), by session id. */
  private readonly resuming = new Map<string, Promise<void>>();
  /** Streams whose client queried its archive (spec §4 R7a), for an SM session enabled after that. */
  private readonly archiveQueried = new WeakSet<C2sStream>();
  readonly smOffered = true;

  constructor(
    private readonly options: GatewayOptions,
    private readonly deps: GatewayDeps,
  ) {
    this.domain = options.domain;
    this.requireEncryption = options.requireEncryption;
    this.allowPlainWithoutTls = options.allowPlainWithoutTls;
    this.maxStanzaSize = options.maxStanzaSize;
    this.setupTimeoutMs = options.setupTimeoutMs ?? 60_000;
    this.logger = deps.logger;
    this.throttle = new FailureThrottle(options.authMaxFailures, options.authFailureWindowS * 1000);
    this.now = deps.now ?? (() => new Date());
    this.sm = new StreamManagement({
      bus: deps.bus,
      log: new SessionLog(deps.bus),
      node: options.node,
      config: options.sm,
      logger: deps.logger,
      now: this.now,
    });
    this.roster = new RosterService(deps.roster, {
      route: (stanza) => this.route(stanza),
      resourcesOf: (bare) => this.deps.registry.resourcesOf(bare),
      deliverTo: (resource, stanza) => this.deliverTo(resource, stanza),
    });
  }

  /** Loads the cluster-wide secrets and answers the commands other gateways send to this one. */
  async start(): Promise<void> {
    this.fakeSecret = await this.deps.accounts.fakeCredentialSecret();
    const target = this.options.node;
    this.services.push(
      this.deps.bus.serve(
        GatewayDeliver,
        (request) =>
          this.deliverLocal(request.to, undefined, parseStanza(request.stanza), request.delivery).then(
            (delivered) => ({
              delivered,
            }),
          ),
        { target },
      ),
      // T9/T11 decided by the timeout service or session-state: any gateway carries it out.
      // At most TERMINATIONS at once, the rest in order: a burst of due timers must not starve streams.
      this.deps.bus.serve(SmTerminate, (request) =>
        this.terminations.run(async (): Promise<ReplyOf<typeof SmTerminate>> => {
          const ended = await this.endFromLog(request.session, request.kind, {
            version: request.version,
            ...(request.keepRecord === undefined ? {} : { keepRecord: request.keepRecord }),
            ...(request.finish === true ? { finishOnly: true } : {}),
          });
          if (ended.kind === 'terminated') return { result: 'terminated', unacked: ended.stanzas.length };
          return ended.kind === 'early' ? { result: 'early', deadline: ended.deadline } : { result: 'stale' };
        }),
      ),
      this.deps.bus.serve(
        GatewayKick,
        (request) => {
          const stream = this.bound.get(request.jid);
          if (stream === undefined || stream.sessionId !== request.session)
            return Promise.resolve({ closed: false });
          this.kick(stream, request.condition);
          return Promise.resolve({ closed: true });
        },
        { target },
      ),
    );
  }

  accept(transport: Transport): C2sStream {
    const stream = new C2sStream(transport, this);
    this.streams.add(stream);
    connections.add(1, { transport: transport.kind });
    this.emit(
      this.deps.bus.publish(ConnectionOpened, {
        id: `${stream.id}.opened`,
        data: {
          session: stream.id,
          gateway: this.options.node,
          transport: transport.kind,
          remote: transport.remoteAddress,
        },
      }),
    );
    return stream;
  }

  newSaslExchange(secure: boolean): SaslExchange {
    return new SaslExchange({
      accounts: this.deps.accounts,
      policy: { tls: secure, allowPlainWithoutTls: this.allowPlainWithoutTls },
      fakeSecret: this.fakeSecret,
    });
  }

  authBlocked(remoteAddress: string, account: string | undefined): boolean {
    const now = Date.now();
    return (
      this.throttle.blocked(`ip:${remoteAddress}`, now) ||
      (account !== undefined && this.throttle.blocked(`account:${account}`, now))
    );
  }

  authFailed(remoteAddress: string, account: string | undefined): void {
    authFailures.add(1);
    const now = Date.now();
    this.throttle.record(`ip:${remoteAddress}`, now);
    if (account !== undefined) this.throttle.record(`account:${account}`, now);
  }

  /**
   * RFC 6120 §7: claims `account/resource` in the cluster. A resource bound elsewhere is taken over: the
   * old session gets a `conflict` stream error (§7.7.2.2, "override"), then the claim is retried.
   */
  async bind(
    stream: C2sStream,
    account: string,
    requested: string | undefined,
  ): Promise<Jid | StanzaErrorInit> {
    let jid: Jid;
    try {
      jid = parseJid(`${account}/${requested ?? randomBytes(9).toString('base64url')}`);
    } catch {
      return { type: 'modify', condition: 'bad-request', text: 'invalid resource' };
    }
    const record: ResourceRecord = {
      jid: jid.toString(),
      gateway: this.options.node,
      session: stream.id,
      priority: 0,
      available: false,
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      const claim = await this.deps.registry.claim(record);
      if (claim.ok) {
        this.bound.set(record.jid, stream);
        this.emit(
          this.deps.bus.publish(ConnectionBound, {
            id: `${stream.id}.bound`,
            data: { session: stream.id, jid: record.jid },
          }),
        );
        return jid;
      }
      await this.evict(claim.holder);
    }
    return { type: 'cancel', condition: 'conflict' };
  }

  /**
   * Ends a local stream for another session: `resumed` (T12: its SM session continues elsewhere) or a
   * resource conflict (RFC 6120 §7.7.2.2; with SM on, T4).
   */
  private kick(stream: C2sStream, condition: string): void {
    if (condition === 'resumed' && stream.sm !== undefined) {
      stream.sm.kickResumedElsewhere();
      return;
    }
    stream.fail(new StreamError('conflict', { text: 'resource bound by another session' }), {
      kind: 'replaced',
    });
  }

  private async evict(holder: ResourceRecord): Promise<void> {
    if (holder.gateway === HIBERNATING) {
      // Spec §7.9, T10: a hibernating session with this resource ends before the new bind completes.
      // A session that had ended already leaves a stale record; endFromLog releases the one it ends.
      const ended = await this.endFromLog(holder.session, 'closed');
      if (ended.kind !== 'terminated') await this.deps.registry.release(holder.jid, holder.session);
      return;
    }
    if (holder.gateway === this.options.node) {
      const local = this.bound.get(holder.jid);
      if (local !== undefined && local.sessionId === holder.session) {
        this.kick(local, 'conflict');
        await this.waitForCleanups();
        await this.deps.registry.release(holder.jid, holder.session);
        return;
      }
    } else {
      try {
        const { closed } = await this.deps.bus.request(
          GatewayKick,
          { jid: holder.jid, session: holder.session, condition: 'conflict' },
          { target: holder.gateway, timeoutMs: 2000 },
        );
        if (closed) return;
      } catch (error) {
        if (!(error instanceof NoRespondersError)) throw error;
      }
    }
    // The holder is gone (its gateway died or forgot it): the record is stale.
    await this.deps.registry.release(holder.jid, holder.session);
  }

  sent(stream: C2sStream, stanza: Element, seq: number): void {
    this.emit(
      this.deps.bus.publish(StanzaSent, {
        id: `${stream.id}.out.${seq}`,
        data: { session: stream.id, stanza: serialize(stanza) },
      }),
    );
  }

  async enableSm(stream: C2sStream, element: Element): Promise<EnableOutcome> {
    const jid = stream.jid;
    if (jid === undefined) throw new Error('enable before bind is answered by the stream');
    const outcome = await this.sm.enable(
      { authenticated: true, bound: true, smEnabled: stream.sm !== undefined },
      element,
      stream.sessionId,
      jid,
      stream.smConnection(),
      (end) => {
        stream.smEnd = end;
      },
    );
    if (outcome.kind === 'enabled' && this.archiveQueried.has(stream)) {
      // Without the flag §4 stores or bounces what R7a would drop: nothing is lost, so SM goes on.
      await outcome.sm.markMamQueried().catch((error: unknown) => {
        mamFlagFailures.add(1);
        this.logger.error({ session: stream.sessionId, err: error }, 'MAM query not logged at enable');
      });
    }
    return outcome;
  }

  /** §2.3: claim, kick the old connection (T12), adopt the resource in the registry, then answer. */
  async resumeSm(stream: C2sStream, element: Element): Promise<ResumeOutcome> {
    const account = stream.account;
    if (account === undefined) throw new Error('resume before authentication is answered by the stream');
    // Deliveries for the session that reach this gateway between the claim and the adoption below
    // wait for it rather than bounce between gateways.
    const session = parsePrevid(element.attrs.previd ?? '')?.session;
    let adopted: () => void = () => undefined;
    if (session !== undefined) this.resuming.set(session, new Promise((resolve) => (adopted = resolve)));
    try {
      return await this.adoptResumed(stream, element, account);
    } finally {
      if (session !== undefined) this.resuming.delete(session);
      adopted();
    }
  }

  private async adoptResumed(stream: C2sStream, element: Element, account: string): Promise<ResumeOutcome> {
    const outcome = await this.sm.resume(
      { authenticated: true, bound: false, smEnabled: false },
      element,
      account,
      stream.smConnection(),
      (end) => {
        stream.smEnd = end;
      },
    );
    if (outcome.kind === 'failed') {
      // §7.3: a resume that found the deadline passed ends the session (T9), its h reported just now.
      if (outcome.expire !== undefined) {
        await this.endFromLog(outcome.expire.session, 'expired', {
          version: outcome.expire.version,
          keepRecord: false,
        });
      }
      return outcome;
    }
    const jid = outcome.jid.toString();
    const session = outcome.sm.session;
    const previous = this.bound.get(jid);
    // Committed: from here stanzas for the session are this stream's (written after <resumed/>).
    stream.adopt(outcome.sm);
    this.bound.set(jid, stream);
    if (previous !== undefined && previous.sessionId === session) {
      this.kick(previous, 'resumed');
    } else if (outcome.previousOwner !== undefined && outcome.previousOwner !== this.options.node) {
      await this.deps.bus
        .request(
          GatewayKick,
          { jid, session, condition: 'resumed' },
          { target: outcome.previousOwner, timeoutMs: 2000 },
        )
        .catch(() => undefined); // A dead or forgetful old gateway has nothing left to kick.
    }
    await this.waitForCleanups();
    const record = (await this.deps.registry.resourcesOfNow(outcome.jid.bare().toString())).find(
      (resource) => resource.jid === jid && resource.session === session,
    );
    if (record === undefined) {
      await this.deps.registry.claim({
        jid,
        gateway: this.options.node,
        session,
        priority: 0,
        available: false,
      });
    } else {
      await this.deps.registry.update(jid, session, { gateway: this.options.node });
      stream.available = record.available;
      stream.priority = record.priority;
    }
    return outcome;
  }

  private async waitForCleanups(): Promise<void> {
    await Promise.all([...this.cleanups]);
  }

  ended(stream: C2sStream, reason: EndReason): void {
    this.streams.delete(stream);
    connections.add(-1, { transport: stream.transport.kind });
    if (reason.kind === 'error') streamErrors.add(1, { condition: reason.condition });
    const jid = stream.jid?.toString();
    const owned = jid !== undefined && this.bound.get(jid) === stream;
    // Deliveries for an SM session that is detaching wait until its fate is in the registry (hibernating:
    // they go to its queue; terminated: they are routed without it), never into a gap.
    let detached: () => void = () => undefined;
    if (owned && stream.sm !== undefined) {
      this.detaching.set(jid, new Promise<void>((resolve) => (detached = resolve)));
    }
    const cleanup = (async () => {
      if (owned) {
        this.bound.delete(jid);
        const settle = (): void => {
          this.detaching.delete(jid);
          detached();
        };
        try {
          await this.unbind(stream, jid, reason, settle);
        } finally {
          settle();
        }
      }
      await this.deps.bus.publish(ConnectionClosed, {
        id: `${stream.id}.closed`,
        data: {
          session: stream.id,
          jid,
          reason: reason.kind,
          condition: reason.kind === 'error' ? reason.condition : undefined,
        },
      });
    })().catch((error: unknown) => {
      this.logger.error({ session: stream.id, err: error }, 'cleanup after stream end failed');
    });
    this.cleanups.add(cleanup);
    void cleanup.finally(() => this.cleanups.delete(cleanup));
  }

  /** The resource of an ended stream: hibernated (T5, T13), moved (T12), or unbound with §4 (T4, T6, T15). */
  /**
   * `settled` is called once the resource's fate is in the registry (deliveries waiting for it go on
   * then); §4 outcomes come after that, since they may route to the user's other resources, which may
   * be ending just now too.
   */
  private async unbind(
    stream: C2sStream,
    jid: string,
    reason: EndReason,
    settled: () => void,
  ): Promise<void> {
    const sm = stream.sm;
    if (sm !== undefined) {
      const detached = await this.sm.detach(sm, smCause(stream.smEnd, reason), overflowStanza(stream.smEnd));
      if (detached.kind === 'moved') return;
      if (detached.kind === 'hibernated') {
        await this.deps.registry.update(jid, stream.sessionId, { gateway: HIBERNATING });
        return;
      }
      await this.deps.registry.release(jid, stream.sessionId);
      settled();
      await this.applyOutcomes(sm.session, jid, detached.stanzas);
    }
    if (stream.available) await this.broadcastUnavailable(stream);
    await this.deps.registry.release(jid, stream.sessionId);
  }

  /** The single entry point of a client's stanzas (validated, `from` stamped). */
  async inbound(stream: C2sStream, stanza: Element, seq: number): Promise<Handoff | undefined> {
    const jid = stream.jid;
    if (jid === undefined) return undefined;
    // With SM on, the session published this stanza's event itself (fenced, counted: spec §1.3).
    if (stream.sm === undefined) {
      this.emit(
        this.deps.bus.publish(StanzaReceived, {
          id: `${stream.id}.in.${seq}`,
          data: { session: stream.id, stanza: serialize(stanza) },
        }),
      );
    }
    const bare = jid.bare().toString();
    const to = stanza.attrs.to;
    if (stanza.name === 'presence') {
      if (to === undefined) {
        await this.ownPresence(stream, stanza);
        return undefined;
      }
      // RFC 6121 §3: subscription requests and answers are the account's, handled with its roster.
      if (subscriptionTypeOf(stanza) !== undefined) {
        await this.roster.outbound(stanza, bare, parseJid(to).bare().toString());
        return undefined;
      }
      // §4.3: probes are the server's business, never a client's.
      if (stanza.attrs.type === 'probe') return undefined;
      // §4.6: directed presence; its recipients get the unavailable presence at logout.
      if (stanza.attrs.type === undefined) stream.directedPresence.add(to);
      else if (stanza.attrs.type === 'unavailable') stream.directedPresence.delete(to);
    }
    if (stanza.name === 'iq' && (to === undefined || to === this.domain || to === bare)) {
      if (stanza.attrs.type !== 'get' && stanza.attrs.type !== 'set') return undefined;
      if (to !== this.domain && this.deps.mam.handles(stanza)) {
        await this.answerArchive(stream, stanza, bare);
        return undefined;
      }
      const reply =
        stanza.getChild('query', NS.ROSTER) !== undefined && to !== this.domain
          ? await this.roster.handleIq(stanza, bare)
          : serverIq(stanza, { domain: this.domain, jid, mam: this.deps.mam.enabled });
      if (reply !== undefined) stream.deliver(reply);
      return undefined;
    }
    if (to === undefined) return undefined;
    // The stanza's identity for deliveries: a retried delivery (a timed-out gateway) is stored once.
    return this.dispatch(stanza, `${stream.id}.${seq}`);
  }

  /**
   * XEP-0313 on the user's own archive: the results, then the iq result, in one flush. A query is logged
   * in the SM session first (spec §4 R7a), so a client that saw results always has the flag logged.
   */
  private async answerArchive(stream: C2sStream, iq: Element, owner: string): Promise<void> {
    if (this.deps.mam.isQuery(iq)) {
      this.archiveQueried.add(stream);
      await stream.sm?.markMamQueried();
    }
    for (const reply of await this.deps.mam.answer(iq, owner)) stream.deliver(reply);
  }

  /** RFC 6121 §4.2, §4.4, §4.5: broadcast presence (initial, updates, unavailable). */
  private async ownPresence(stream: C2sStream, stanza: Element): Promise<void> {
    const jid = stream.jid;
    if (jid === undefined) return;
    const type = stanza.attrs.type;
    if (type !== undefined && type !== 'unavailable') return;
    const initial = type === undefined && !stream.available;
    stream.available = type === undefined;
    stream.priority = priorityOf(stanza);
    await this.deps.registry.update(jid.toString(), stream.sessionId, {
      available: stream.available,
      priority: stream.priority,
      presence: stream.available ? serialize(stanza) : undefined,
    });
    const bare = jid.bare().toString();
    // §4.2.2, §4.4.2: the sending resource gets its own presence back too.
    stream.deliver(withTo(stanza, jid.toString()));
    await this.toOtherResources(stream, stanza);
    await this.roster.broadcast(stanza, bare);
    if (initial) {
      await this.roster.initialPresence(this.recordOf(stream, jid), bare);
      await this.deliverOffline(stream);
    }
  }

  private recordOf(stream: C2sStream, jid: Jid): ResourceRecord {
    return {
      jid: jid.toString(),
      gateway: this.options.node,
      session: stream.sessionId,
      priority: stream.priority,
      available: stream.available,
    };
  }

  private async broadcastUnavailable(stream: C2sStream): Promise<void> {
    const jid = stream.jid;
    if (jid === undefined) return;
    stream.available = false;
    const unavailable = xml('presence', { type: 'unavailable', from: jid.toString() });
    await this.toOtherResources(stream, unavailable);
    await this.roster.broadcast(unavailable, jid.bare().toString());
    // RFC 6121 §4.6.3: entities that got directed presence learn that the resource went away.
    await Promise.all([...stream.directedPresence].map((to) => this.route(withTo(unavailable, to))));
    stream.directedPresence.clear();
  }

  /** RFC 6121 §4.2.2: the user's own other available resources see its presence too. */
  private async toOtherResources(stream: C2sStream, stanza: Element): Promise<void> {
    const jid = stream.jid;
    if (jid === undefined) return;
    const others = (await this.deps.registry.resourcesOf(jid.bare().toString())).filter(
      (record) => record.available && record.jid !== jid.toString(),
    );
    await Promise.all(others.map((record) => this.deliverTo(record, withTo(stanza, record.jid))));
  }

  /** XEP-0160: stored messages go to the first resource that sends initial presence. */
  private async deliverOffline(stream: C2sStream): Promise<void> {
    const jid = stream.jid;
    if (jid === undefined) return;
    const stored = await this.deps.offline.peek(jid.bare().toString());
    // Removed only once the stream holds them (with SM on: durable in its log), in order.
    const taken = await Promise.all(
      stored.map((message) => stream.deliverDurably(parseStanza(message.stanza))),
    );
    await this.deps.offline.remove(
      jid.bare().toString(),
      stored.filter((_, index) => taken[index] === true).map((message) => message.id),
    );
  }

  /** Routes a stanza addressed to someone else (RFC 6121 §8). */
  async route(stanza: Element, origin?: string): Promise<void> {
    await (
      await this.dispatch(stanza, origin)
    ).delivered;
  }

  /**
   * `route` in two steps: resolves once the stanza is on its way (decided, and handed to its target
   * sessions in order), to the delivery still under way, so a sender's next stanza need not wait for it.
   */
  private async dispatch(stanza: Element, origin?: string): Promise<Handoff> {
    const to = parseJid(stanza.attrs.to ?? this.domain);
    if (to.domain !== this.domain) {
      // No s2s outlet yet: every remote domain is unreachable (RFC 6120 §8.3.3.15).
      this.replyError(stanza, { type: 'cancel', condition: 'remote-server-not-found' });
      return DELIVERED;
    }
    if (to.local === undefined) {
      if (stanza.name === 'iq' && (stanza.attrs.type === 'get' || stanza.attrs.type === 'set')) {
        const from = stanza.attrs.from;
        if (from === undefined) return DELIVERED;
        const reply = serverIq(stanza, {
          domain: this.domain,
          jid: parseJid(from),
          mam: this.deps.mam.enabled,
        });
        if (reply !== undefined) await this.routeReply(reply);
      }
      return DELIVERED;
    }
    const bare = to.bare().toString();
    const [accountExists, resources] = await Promise.all([
      this.deps.accounts.exists(bare),
      this.deps.registry.resourcesOf(bare),
    ]);
    const decision = route(stanza, { domain: this.domain, accountExists, resources });
    // A client's message accepted for a local account: archived for both sides, stanza-ids set (XEP-0313).
    const routed =
      origin !== undefined &&
      stanza.name === 'message' &&
      (decision.kind === 'deliver' || decision.kind === 'offline')
        ? await this.deps.mam.accept(stanza, origin, bare)
        : stanza;
    switch (decision.kind) {
      case 'deliver':
        // Each delivery hands the stanza to its session (or its gateway) before its first await.
        return {
          delivered: Promise.all(decision.to.map((record) => this.deliverTo(record, routed, origin))).then(
            () => undefined,
          ),
        };
      case 'offline': {
        // Keyed like a delivery: a routing retried under the same origin stores the message once.
        const stored = await this.deps.offline.put(
          bare,
          routed,
          this.now(),
          ...(origin === undefined ? [] : [`${origin}>${bare}`]),
        );
        if (stored !== 'stored') this.replyError(stanza, { type: 'wait', condition: 'resource-constraint' });
        return DELIVERED;
      }
      case 'error':
        this.replyError(stanza, { type: decision.type, condition: decision.condition });
        return DELIVERED;
      case 'remote':
        this.replyError(stanza, { type: 'cancel', condition: 'remote-server-not-found' });
        return DELIVERED;
      case 'server':
        await this.onBehalfOf(bare, stanza);
        return DELIVERED;
      case 'drop':
        return DELIVERED;
    }
  }

  /** RFC 6121 §8.5.2.1.3, §3, §4.3: what the server handles for a local account. */
  private async onBehalfOf(bare: string, stanza: Element): Promise<void> {
    const from = stanza.attrs.from === undefined ? undefined : parseJid(stanza.attrs.from);
    if (from === undefined) return;
    if (stanza.name === 'presence') {
      if (stanza.attrs.type === 'probe')
        await this.roster.probe(bare, from.bare().toString(), from.toString());
      else await this.roster.inbound(stanza, bare, from.bare().toString());
      return;
    }
    if (stanza.name === 'iq' && (stanza.attrs.type === 'get' || stanza.attrs.type === 'set')) {
      const reply = serverIq(stanza, { domain: this.domain, jid: from, mam: this.deps.mam.enabled });
      if (reply !== undefined) await this.routeReply(reply);
    }
  }

  private replyError(stanza: Element, error: StanzaErrorInit): void {
    const reply = errorReply(stanza, error);
    if (reply !== undefined) void this.routeReply(reply);
  }

  /** A reply the server generates: to a local full JID it goes straight back through routing. */
  private async routeReply(reply: Element): Promise<void> {
    const to = reply.attrs.to;
    if (to === undefined) return;
    const stream = this.bound.get(to);
    if (stream !== undefined) {
      stream.deliver(reply);
      return;
    }
    await this.route(reply);
  }

  /**
   * Hands a stanza to the session of `record`, wherever it is. `origin` identifies the routed stanza:
   * with the target session it makes the delivery's id, under which the session's log stores it once,
   * however often a delivery is retried (say, to a gateway that died with the request in flight).
   */
  private async deliverTo(record: ResourceRecord, stanza: Element, origin?: string, hops = 0): Promise<void> {
    if (hops > 3) {
      this.logger.error({ jid: record.jid, hops }, 'session keeps moving; stanza not delivered');
      return;
    }
    const delivery = origin === undefined ? undefined : `${origin}>${record.session}`;
    if (record.gateway === HIBERNATING) {
      await this.toQueue(record, stanza, { delivery, hops });
      return;
    }
    if (record.gateway === this.options.node) {
      if (!(await this.deliverLocal(record.jid, record.session, stanza, delivery)))
        await this.notDelivered(record, stanza, origin, hops);
      return;
    }
    try {
      const { delivered } = await this.deps.bus.request(
        GatewayDeliver,
        { to: record.jid, stanza: serialize(stanza), ...(delivery === undefined ? {} : { delivery }) },
        { target: record.gateway, timeoutMs: 2000 },
      );
      if (delivered) return;
    } catch (error) {
      if (!(error instanceof NoRespondersError) && !(error instanceof BusTimeoutError)) throw error;
      // A gateway that died holding a resumable session (maybe with this request in flight): its queue
      // takes the stanza (spec §7.14). Had it stored the stanza before dying, the client sees it twice,
      // which unacked stanzas may (§7.5).
      this.logger.warn({ gateway: record.gateway, jid: record.jid }, 'gateway unreachable');
      await this.toQueue(record, stanza, { delivery, hops, unreachableOwner: record.gateway });
      return;
    }
    await this.notDelivered(record, stanza, origin, hops);
  }

  /**
   * The gateway named by `record` does not hold the session (any more): it moved (a resume elsewhere:
   * follow it) or the record is stale (release it).
   */
  private async notDelivered(
    record: ResourceRecord,
    stanza: Element,
    origin: string | undefined,
    hops: number,
  ): Promise<void> {
    const current = (await this.deps.registry.resourcesOfNow(parseJid(record.jid).bare().toString())).find(
      (resource) => resource.jid === record.jid && resource.session === record.session,
    );
    if (current !== undefined && current.gateway !== record.gateway) {
      await this.deliverTo(current, stanza, origin, hops + 1);
      return;
    }
    // The gateway named does not hold the session: its log says where the stanza goes (hibernating or
    // still ACTIVE there: its durable queue, T7; resumed: the new owner; not SM or ended: routed again).
    const delivery = origin === undefined ? undefined : `${origin}>${record.session}`;
    await this.toQueue(record, stanza, { delivery, hops, unreachableOwner: record.gateway });
  }

  /** T7: a stanza for a session without a connection goes to its durable queue, wherever it is routed. */
  private async toQueue(
    record: ResourceRecord,
    stanza: Element,
    how: { readonly delivery: string | undefined; readonly hops: number; readonly unreachableOwner?: string },
  ): Promise<void> {
    const bare = parseJid(record.jid).bare().toString();
    const result = await this.sm.queue(record.session, bare, stanza, this.now(), how);
    switch (result.kind) {
      case 'queued':
        return;
      case 'active': {
        // Resumed meanwhile: deliver to its new gateway (bounded: a session cannot move forever).
        const origin = how.delivery?.slice(0, how.delivery.lastIndexOf('>'));
        await this.deliverTo({ ...record, gateway: result.owner }, stanza, origin, how.hops + 1);
        return;
      }
      case 'overflow':
        // T11b: the queue is full; the session ends and §4 decides its stanzas and this one.
        if ((await this.endFromLog(record.session, 'overflow', { extra: stanza })).kind !== 'terminated') {
          // It ended otherwise meanwhile: the stanza is placed as for any stale resource.
          await this.deps.registry.release(record.jid, record.session);
          await this.route(stanza);
        }
        return;
      case 'gone':
        // Not an SM session (or it ended): the resource is stale; route again without it (whoever
        // released it first, this stanza is still ours to place).
        await this.deps.registry.release(record.jid, record.session);
        await this.route(stanza);
        return;
    }
  }

  /**
   * Ends a session that has no connection here from its log (T9, T10, T11, T11b; see
   * StreamManagement.terminateFromLog): §4 for its queue, then the resource leaves the registry and, if
   * it was available (its record holds a broadcast presence), goes unavailable to the user's contacts
   * (RFC 6121 §4.5.2, as for a live stream: a resource that never sent presence is not announced).
   */
  private async endFromLog(
    session: string,
    kind: TerminatedKind,
    guard: TerminateGuard = {},
  ): Promise<FromLog> {
    const ended = await this.sm.terminateFromLog(session, kind, guard);
    if (ended.kind !== 'terminated') return ended;
    await this.applyOutcomes(session, ended.jid, ended.stanzas, ended.settled);
    const released = await this.deps.registry.release(ended.jid, session);
    if (released?.presence !== undefined) {
      // Spec T9: the unbind of an expired session says why (as Prosody's mod_smacks does).
      const unavailable = xml(
        'presence',
        { type: 'unavailable', from: ended.jid },
        ...(kind === 'expired' ? [xml('status', {}, 'Disconnected: hibernation timeout')] : []),
      );
      await this.roster.broadcast(unavailable, parseJid(ended.jid).bare().toString());
    }
    return ended;
  }

  /**
   * Spec §4 for a terminated session's unacked stanzas: the R0 disposer first (one request, 1 s), then
   * the one outcome function, carried out here (offline store, bounces), each fate published.
   */
  private async applyOutcomes(
    session: string,
    fullJid: string,
    stanzas: readonly Element[],
    settled: ReadonlySet<number> = new Set(),
  ): Promise<void> {
    const numbered = stanzas
      .map((stanza, index) => ({ seq: index + 1, stanza }))
      .filter(({ seq }) => !settled.has(seq));
    if (numbered.length === 0) return;
    const jid = parseJid(fullJid);
    const bare = jid.bare().toString();
    let claimed = new Set<number>();
    try {
      const reply = await this.deps.bus.request(
        SmUnackedDispose,
        {
          session,
          jid: fullJid,
          stanzas: numbered.map(({ seq, stanza }) => ({ seq, stanza: serialize(stanza) })),
        },
        { timeoutMs: 1000 },
      );
      claimed = new Set(reply.claimed);
    } catch {
      // Timeout or no responders: none claimed (spec §6).
    }
    const [resources, issuedMamQuery] = await Promise.all([
      this.deps.registry.resourcesOfNow(bare),
      // R7a reads the flag only for a message the user's archive holds: only then is the log asked.
      numbered.some(({ stanza }) => hasOwnStanzaId(stanza, bare)) && this.sm.mamQueried(session),
    ]);
    const outcomes = decideOutcomes({
      session: { fullJid, bareJid: bare, domain: this.domain, issuedMamQuery },
      boundResources: [...new Set([fullJid, ...resources.map((resource) => resource.jid)])],
      stanzas: numbered,
      policy: this.options.sm.unackedMessagePolicy,
      offlineEnabled: true,
      claimed,
    });
    // Stored in queue order under one capacity check. Keyed by session and place (zero-padded, so the
    // ids sort in queue order): a termination finished again after a crash stores each once.
    const offline = outcomes.filter((outcome): outcome is RoutedOutcome => outcome.action === 'offline');
    const storedAs = await this.deps.offline.putAll(
      bare,
      offline.map(({ stanza, seq }) => ({
        message: stanza,
        id: `${session}.${String(seq).padStart(10, '0')}`,
      })),
      this.now(),
    );
    const offlineResults = new Map(offline.map((outcome, index) => [outcome.seq, storedAs[index]]));
    const logged: Promise<unknown>[] = [];
    for (const outcome of outcomes) {
      // The bounce's delivery identity: a termination finished again after a crash (within the log's
      // duplicate window) does not queue it twice for a stream-management recipient.
      const origin = `${session}.outcome.${outcome.seq}`;
      if (outcome.action === 'offline') {
        if (offlineResults.get(outcome.seq) !== 'stored') {
          const bounce = errorReply(outcome.stanza, { type: 'wait', condition: 'recipient-unavailable' });
          if (bounce !== undefined) await this.route(withFrom(bounce, outcome.stanza.attrs.to), origin);
        }
      } else if (outcome.action === 'bounce') {
        await this.route(outcome.stanza, origin);
      }
      logged.push(
        this.deps.bus.publish(SmUnackedOutcome, {
          id: origin,
          data: {
            session,
            seq: outcome.seq,
            ...(outcome.stanzaId === undefined ? {} : { stanzaId: outcome.stanzaId }),
            rule: outcome.rule,
            action: outcome.action,
          },
        }),
      );
    }
    // Logged before the termination is reported done: a crash before this finishes it again (unfinished).
    await Promise.all(logged);
  }

  /** Resolves once the stream took the stanza (with SM on: durable in its session's log). */
  private async deliverLocal(
    to: string,
    session: string | undefined,
    stanza: Element,
    delivery?: string,
  ): Promise<boolean> {
    let stream = this.bound.get(to);
    if (stream === undefined || (session !== undefined && stream.sessionId !== session)) {
      await this.detaching.get(to);
      const resuming = session === undefined ? undefined : this.resuming.get(session);
      if (resuming === undefined) return false;
      await resuming;
      stream = this.bound.get(to);
      if (stream === undefined || stream.sessionId !== session) return false;
    }
    return stream.deliverDurably(stanza, delivery);
  }

  /** Connection events are published in the background; a failure is logged, never fatal to a stream. */
  private emit(publishing: Promise<unknown>): void {
    publishing.catch((error: unknown) => {
      this.logger.error({ err: error }, 'event publish failed');
    });
  }

  /** Ends every stream with `system-shutdown` and stops answering commands. */
  async stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const stream of this.streams) stream.fail(new StreamError('system-shutdown'));
      await Promise.all(this.services.map((service) => service.stop()));
      // Sessions hibernated, records released and events published before the process lets go of NATS.
      await Promise.all([...this.cleanups]);
    })();
    return this.stopping;
  }

  private stopping: Promise<void> | undefined;
}

const DELIVERED: Handoff = { delivered: Promise.resolve() };

/** `sm.terminate` requests carried out at once by one gateway. */
const TERMINATIONS = 64;

function priorityOf(presence: Element): number {
  const value = Number.parseInt(presence.getChildText('priority') ?? '0', 10);
  return Number.isInteger(value) && value >= -128 && value <= 127 ? value : 0;
}

function withFrom(stanza: Element, from: string | undefined): Element {
  return xml(stanza.name, { ...stanza.attrs, from }, ...stanza.children);
}

/** How an attached SM session's connection ended, in the terms of spec §2.2. */
function smCause(end: SmEnd | undefined, reason: EndReason): 'transport' | 'close' | 'overflow' {
  if (end?.kind === 'overflow') return 'overflow';
  if (end !== undefined) return 'close';
  if (reason.kind === 'unclean') return 'transport';
  // T13: a drain keeps resumable sessions resumable.
  if (reason.kind === 'error' && reason.condition === 'system-shutdown') return 'transport';
  return 'close';
}

function overflowStanza(end: SmEnd | undefined): Element | undefined {
  return end?.kind === 'overflow' ? end.stanza : undefined;
}

function withTo(stanza: Element, to: string): Element {
  return xml(stanza.name, { ...stanza.attrs, to }, ...stanza.children);
}

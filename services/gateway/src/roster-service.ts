import { randomBytes } from 'node:crypto';

import { NS, StanzaError, errorReply, xml, type Element } from '@holdfast/xmpp';

import type { RegisteredResource, ResourceRecord } from './routing/registry.js';
import {
  decideRosterSet,
  decideSubscription,
  hasFrom,
  hasTo,
  parseRosterQuery,
  pendingSubscriptionRequests,
  rosterGetResult,
  rosterPush,
  rosterSetResult,
  subscriptionTypeOf,
  type RosterEffect,
  type RosterRepository,
} from './roster/index.js';
import { parseStanza } from './stanza-text.js';

/** How the roster service reaches sessions: through the gateway's cluster routing. */
export interface PresenceRouting {
  /** Routes a stanza with a `to` like any other (RFC 6121 §8). */
  route(stanza: Element): Promise<void>;
  /** Every bound resource of an account, cluster-wide, with its last broadcast presence. */
  resourcesOf(bareJid: string): Promise<readonly RegisteredResource[]>;
  /** Writes a stanza to one bound resource, wherever it is. */
  deliverTo(resource: ResourceRecord, stanza: Element): Promise<void>;
}

/**
 * Carries out RFC 6121 §2 (roster get/set/push), §3 (subscriptions) and the roster-driven parts of §4
 * (presence broadcast to subscribers, probes) around the pure roster core and its repository.
 */
export class RosterService {
  constructor(
    private readonly repository: RosterRepository,
    private readonly routing: PresenceRouting,
  ) {}

  /** §2.1.3, §2.3, §2.5: a roster get or set from the user; returns the reply. */
  async handleIq(iq: Element, user: string): Promise<Element | undefined> {
    try {
      const query = parseRosterQuery(iq, user);
      if (query.kind === 'get') return rosterGetResult(iq, await this.repository.get(user));
      const itemCount = await this.repository.count(user);
      const decision = await this.repository.update(user, query.jid, (current) =>
        decideRosterSet(query, current, { user, itemCount }),
      );
      await this.apply(user, decision.effects);
      return rosterSetResult(iq);
    } catch (error) {
      if (error instanceof StanzaError) return errorReply(iq, error);
      throw error;
    }
  }

  /** §3.1.2, §3.2.2, §3.3.2, §3.4: a subscription stanza the user sends. */
  async outbound(stanza: Element, user: string, contact: string): Promise<void> {
    await this.decide('outbound', stanza, user, contact);
  }

  /** §3.1.3, §3.2.3, §3.3.3: a subscription stanza for the user from a contact. */
  async inbound(stanza: Element, user: string, contact: string): Promise<void> {
    await this.decide('inbound', stanza, user, contact);
  }

  private async decide(
    direction: 'outbound' | 'inbound',
    stanza: Element,
    user: string,
    contact: string,
  ): Promise<void> {
    const type = subscriptionTypeOf(stanza);
    if (type === undefined || user === contact) return;
    const decision = await this.repository.update(user, contact, (current) =>
      decideSubscription(current, { direction, type, user, contact, stanza }),
    );
    await this.apply(user, decision.effects);
  }

  /**
   * §4.3.2: a probe for the user's presence from `prober` (a full or bare JID): answered with the last
   * presence of each available resource when the prober is subscribed, otherwise not at all.
   */
  async probe(user: string, proberBare: string, proberFull: string): Promise<void> {
    const item = (await this.repository.get(user)).find((candidate) => candidate.jid === proberBare);
    if (!hasFrom(item)) return;
    await this.sendPresenceOf(user, proberFull);
  }

  /** §4.2.2, §4.4.2, §4.5.2: the user's broadcast presence goes to every contact subscribed to it. */
  async broadcast(presence: Element, user: string): Promise<void> {
    const items = await this.repository.get(user);
    await Promise.all(
      items.filter((item) => hasFrom(item)).map((item) => this.routing.route(addressed(presence, item.jid))),
    );
  }

  /**
   * §4.2.2: after a resource's initial presence, probe every contact the user is subscribed to, and
   * deliver subscription requests that waited while the user was offline (§3.1.3).
   */
  async initialPresence(resource: ResourceRecord, user: string): Promise<void> {
    const items = await this.repository.get(user);
    await Promise.all(
      items
        .filter((item) => hasTo(item))
        .map((item) => this.routing.route(xml('presence', { type: 'probe', from: user, to: item.jid }))),
    );
    for (const request of pendingSubscriptionRequests(items)) {
      await this.routing.deliverTo(resource, addressed(request, resource.jid));
    }
  }

  private async apply(user: string, effects: readonly RosterEffect[]): Promise<void> {
    for (const effect of effects) {
      switch (effect.kind) {
        case 'push': {
          // §2.1.6: every resource of the user gets the push (interest is not tracked across gateways).
          const resources = await this.routing.resourcesOf(user);
          await Promise.all(
            resources.map((resource) =>
              this.routing.deliverTo(
                resource,
                rosterPush(effect.item, resource.jid, randomBytes(6).toString('hex')),
              ),
            ),
          );
          break;
        }
        case 'route':
        case 'auto-reply':
          await this.routing.route(effect.stanza);
          break;
        case 'deliver-to-user': {
          const available = (await this.routing.resourcesOf(user)).filter((resource) => resource.available);
          await Promise.all(
            available.map((resource) =>
              this.routing.deliverTo(resource, addressed(effect.stanza, resource.jid)),
            ),
          );
          break;
        }
        case 'send-presence-of-user':
          await this.sendPresenceOf(user, effect.to);
          break;
        case 'send-unavailable-of-user': {
          const available = (await this.routing.resourcesOf(user)).filter((resource) => resource.available);
          await Promise.all(
            available.map((resource) =>
              this.routing.route(xml('presence', { type: 'unavailable', from: resource.jid, to: effect.to })),
            ),
          );
          break;
        }
      }
    }
  }

  /** The last presence of each available resource of `user`, sent to `to` (§4.3.2, §3.1.5). */
  private async sendPresenceOf(user: string, to: string): Promise<void> {
    const available = (await this.routing.resourcesOf(user)).filter((resource) => resource.available);
    await Promise.all(
      available.map((resource) => {
        const last = resource.presence === undefined ? xml('presence') : parseStanza(resource.presence);
        last.attrs.from = resource.jid;
        return this.routing.route(addressed(last, to));
      }),
    );
  }
}

/** A copy of `stanza` addressed to `to`. */
function addressed(stanza: Element, to: string): Element {
  const copy = xml(stanza.name, { ...stanza.attrs, to }, ...stanza.children);
  if (copy.attrs.xmlns === undefined) copy.attrs.xmlns = NS.CLIENT;
  return copy;
}

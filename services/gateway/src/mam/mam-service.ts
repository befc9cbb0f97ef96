import { metrics } from '@opentelemetry/api';
import { NS, errorReply, parseJid, serialize, type Element, type StanzaErrorInit } from '@holdfast/xmpp';

import { parseStanza } from '../stanza-text.js';
import { isArchivable, withStanzaId, withoutStanzaIdsBy } from './archivable.js';
import type { ArchiveEntry, MessageArchive, StoredEntry } from './archive-store.js';
import { pageOf, planPage } from './page-plan.js';
import { parseQuery } from './query.js';
import {
  countReply,
  finReply,
  formReply,
  metadataReply,
  resultMessage,
  type Answering,
  type ArchivedMessage,
} from './results.js';

export interface MamOptions {
  /** Archive messages and answer queries (`MAM_ENABLED`); off, only forged stanza-ids are stripped. */
  readonly enabled: boolean;
  /** Most results per query page (`MAM_MAX_PAGE_SIZE`). */
  readonly maxPageSize: number;
}

const archiveFailures = metrics
  .getMeter('@holdfast/gateway')
  .createCounter('holdfast.gateway.mam.archive_failures', {
    description: 'messages delivered without being archived (the archive store failed)',
  });

/**
 * XEP-0313 message archive management for the users of this server: their messages archived as they are
 * routed, and their queries answered. The decisions are pure (`archivable`, `query`, `page-plan`,
 * `results`); this is the shell around the store.
 */
export class Mam {
  constructor(
    private readonly archive: MessageArchive,
    readonly options: MamOptions,
    private readonly logger: { error(fields: object, message: string): void },
  ) {}

  get enabled(): boolean {
    return this.options.enabled;
  }

  /**
   * A client's message accepted for the local account `recipient` (a bare JID), before it is delivered or
   * stored offline: forged stanza-ids stripped (XEP-0359 §4), then, if archivable, archived once for its
   * sender and once for its recipient under `origin` (the routed client stanza), the recipient's copy
   * naming its archive id (XEP-0313 §3.5). A failing store costs the archive, never the message: it is
   * delivered without a stanza-id (logged, counted).
   */
  async accept(message: Element, origin: string, recipient: string): Promise<Element> {
    const routed = withoutStanzaIdsBy(message, recipient);
    const from = routed.attrs.from;
    const to = routed.attrs.to;
    if (!this.enabled || from === undefined || to === undefined || !isArchivable(routed)) return routed;
    const sender = parseJid(from).bare().toString();
    const stanza = serialize(routed);
    const [id] = await Promise.all([
      this.add({ owner: recipient, origin, with: sender, withFull: from, stanza }),
      // A message to oneself is one entry (the same key): archived once.
      sender === recipient
        ? undefined
        : this.add({ owner: sender, origin, with: recipient, withFull: to, stanza }),
    ]);
    return id === undefined ? routed : withStanzaId(routed, recipient, id);
  }

  private async add(entry: ArchiveEntry): Promise<string | undefined> {
    try {
      return await this.archive.add(entry);
    } catch (error) {
      archiveFailures.add(1);
      this.logger.error({ err: error, owner: entry.owner, origin: entry.origin }, 'message not archived');
      return undefined;
    }
  }

  /** An iq for the user's own archive that this answers (a query, its form, the metadata). */
  handles(iq: Element): boolean {
    return this.enabled && iq.getChildElements()[0]?.getNS() === NS.MAM;
  }

  /** True for an archive query (iq set): what spec §4 R7a counts as the session having queried MAM. */
  isQuery(iq: Element): boolean {
    return this.handles(iq) && iq.attrs.type === 'set' && iq.getChildElements()[0]?.getName() === 'query';
  }

  /**
   * XEP-0313 §4 and §5 on `owner`'s archive for an iq the user sent to its own bare JID: the result
   * messages in order, then the iq result (or only an error reply).
   */
  async answer(iq: Element, owner: string): Promise<Element[]> {
    const payload = iq.getChildElements()[0];
    const answering: Answering = { archive: owner, iq, queryId: payload?.attrs.queryid };
    const type = iq.attrs.type;
    if (payload?.getName() === 'metadata' && type === 'get') {
      const { first, last } = await this.archive.ends(owner);
      return [metadataReply(answering, archived(first), archived(last))];
    }
    if (payload?.getName() !== 'query') {
      return refused(iq, { type: 'cancel', condition: 'feature-not-implemented' });
    }
    if (type === 'get') return [formReply(answering)];
    const parsed = parseQuery(payload);
    if (parsed.kind === 'error') return refused(iq, parsed.error);
    const plan = planPage(parsed.query, this.options.maxPageSize);
    if (!(await this.archive.holdsAll(owner, plan.named))) {
      return refused(iq, { type: 'cancel', condition: 'item-not-found', text: 'no such id in the archive' });
    }
    if (plan.size === 0) return [countReply(answering, await this.archive.count(owner, plan))];
    const page = pageOf(plan, await this.archive.page(owner, plan));
    return [
      ...page.items.map((item) => resultMessage(answering, toArchived(item))),
      finReply(answering, page),
    ];
  }
}

function refused(iq: Element, error: StanzaErrorInit): Element[] {
  const reply = errorReply(iq, error);
  return reply === undefined ? [] : [reply];
}

function toArchived(entry: StoredEntry): ArchivedMessage {
  return { id: entry.id, at: entry.at, message: parseStanza(entry.stanza) };
}

function archived(entry: StoredEntry | undefined): ArchivedMessage | undefined {
  return entry === undefined ? undefined : toArchived(entry);
}

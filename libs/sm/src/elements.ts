import { NS, StreamError, cloneElement, withDelay, xml } from '@holdfast/xmpp';
import type { Element } from '@holdfast/xmpp';

import { SmError } from './errors.js';
import type { SmFailedCondition } from './stream.js';

/** What `<enabled/>` says (§1.2): id, resume and max only for a resumable session. */
export type EnabledInit =
  | {
      readonly resumable: true;
      /** The minted SM-ID (§1.2). */
      readonly id: string;
      readonly max: number;
      readonly location?: string | undefined;
    }
  | { readonly resumable: false; readonly location?: string | undefined };

/** §1.2: `<enabled xmlns='urn:xmpp:sm:3' [id resume='true' max] [location]/>`. */
export function enabledElement(init: EnabledInit): Element {
  const resumeAttrs = init.resumable ? { id: init.id, resume: 'true', max: init.max } : {};
  return xml('enabled', { xmlns: NS.SM, ...resumeAttrs, location: init.location });
}

export interface FailedInit {
  readonly condition: SmFailedCondition;
  /** §1.4: only for a kept h-record (T14) or a session that expired on this resume (§5). */
  readonly h?: number | undefined;
}

/** §1.2, §1.4: `<failed xmlns='urn:xmpp:sm:3' [h]><condition xmlns='…xmpp-stanzas'/></failed>`. */
export function failedElement(init: FailedInit): Element {
  return xml('failed', { xmlns: NS.SM, h: init.h }, xml(init.condition, { xmlns: NS.STANZA_ERROR }));
}

/** §1.2, §2.3 step 6: `previd` echoed, `h` = the server's inbound count read after the fence. */
export function resumedElement(previd: string, h: number): Element {
  return xml('resumed', { xmlns: NS.SM, previd, h });
}

/** §1.2: `<a h/>`, also the final one before a close (§1.5). */
export function ackElement(h: number): Element {
  return xml('a', { xmlns: NS.SM, h });
}

/** §1.2: `<r/>`. */
export function requestElement(): Element {
  return xml('r', { xmlns: NS.SM });
}

export interface HandledCountInit {
  /** The peer's `h`. */
  readonly h: number;
  /** Our outbound count. */
  readonly sendCount: number;
}

/**
 * §1.5: an `<a/>` whose `h` is too high (§1.3): `undefined-condition` with the XEP-0198 §5
 * `<handled-count-too-high/>` application condition (Prosody sends the text only).
 */
export function handledCountTooHighError(init: HandledCountInit): StreamError {
  return new StreamError('undefined-condition', {
    text: `You acknowledged ${init.h} stanzas, but I only sent you ${init.sendCount} so far.`,
    application: xml('handled-count-too-high', { xmlns: NS.SM, h: init.h, 'send-count': init.sendCount }),
  });
}

/** §1.5: an `<a/>` whose `h` is too low (§1.3): `undefined-condition`, text only, no child. */
export function handledCountTooLowError(init: { readonly h: number; readonly acked: number }): StreamError {
  return new StreamError('undefined-condition', {
    text: `You acknowledged ${init.h} stanzas, but had already acknowledged ${init.acked}.`,
  });
}

const STAMPED: ReadonlySet<string> = new Set(['message', 'presence']);

/**
 * §2.5, XEP-0203: the queued copy of a `<message/>` or `<presence/>` gets
 * `<delay xmlns='urn:xmpp:delay' from='<bare JID>' stamp='<first queued, UTC>'/>`, unless it already has
 * a `urn:xmpp:delay` child (§7.12). `<iq/>` is never stamped. Always a copy: the original is untouched.
 */
export function stampDelay(stanza: Element, bareJid: string, at: Date): Element {
  if (Number.isNaN(at.getTime())) throw new SmError('HF_SM_TIME_INVALID', 'at is an invalid Date');
  return STAMPED.has(stanza.getName()) ? withDelay(stanza, bareJid, at) : cloneElement(stanza);
}

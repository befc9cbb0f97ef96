import type { StanzaErrorCondition } from '@holdfast/xmpp';

/** What the enable and resume deciders need to know about the stream the request arrived on. */
export interface SmStreamSnapshot {
  /** c2s: SASL succeeded. Ignored on s2s, where `verifiedDomainPair` is the authentication (§1.1). */
  readonly authenticated: boolean;
  /** A resource is bound, by bind or by an earlier resume. Always false on s2s. */
  readonly bound: boolean;
  /** SM already enabled on this stream, also by a resume. */
  readonly smEnabled: boolean;
  readonly s2s: boolean;
  /** Config `enabled_s2s` (§3). */
  readonly enabledS2s: boolean;
  /** s2s: at least one domain pair verified on this stream (§1.6). */
  readonly verifiedDomainPair?: boolean | undefined;
  /** Config `hibernation_time_s` (§3); 0 disables resumption (§1.2). */
  readonly hibernationTimeS: number;
}

/** Attributes of an `<enable/>` or `<resume/>`: an `Element['attrs']` fits. */
export type SmAttrs = Readonly<Record<string, string | undefined>>;

/** Spec §1.4: the conditions a `<failed/>` carries, in the `stanzas` namespace. */
export const SM_FAILED_CONDITIONS = [
  'service-unavailable',
  'not-authorized',
  'unexpected-request',
  'feature-not-implemented',
  'bad-request',
  'item-not-found',
  'undefined-condition',
  'internal-server-error',
] as const satisfies readonly StanzaErrorCondition[];

export type SmFailedCondition = (typeof SM_FAILED_CONDITIONS)[number];

/** A refused `<enable/>` or `<resume/>`: answer `<failed/>`, the stream stays open (§1.4, T2). */
export interface SmFailed {
  readonly kind: 'failed';
  readonly condition: SmFailedCondition;
  /** Only for T14 / an expired-on-resume session (§1.4, §5). */
  readonly h?: number;
}

/** §1.1, §1.4: c2s is authenticated by SASL; s2s once a domain pair is verified. */
export function isStreamAuthenticated(stream: SmStreamSnapshot): boolean {
  return stream.s2s ? stream.verifiedDomainPair === true : stream.authenticated;
}

export function failed(condition: SmFailedCondition): SmFailed {
  return { kind: 'failed', condition };
}

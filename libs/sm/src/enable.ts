import { failed, isStreamAuthenticated } from './stream.js';
import type { SmAttrs, SmFailed, SmStreamSnapshot } from './stream.js';

export interface EnableOptions {
  /** Config `location` (§3): sent on `<enabled/>` only when set (§1.2). */
  readonly location?: string | undefined;
}

/**
 * Turn SM on (T1). When `resumable`, the caller mints an SM-ID and registers the session durably before
 * writing `<enabled/>` (§1.7: validate → commit → respond).
 */
export type EnableDecision =
  | {
      readonly kind: 'enable';
      readonly resumable: true;
      /** Effective resume window in seconds (§1.2), also the hibernation length (T5). */
      readonly max: number;
      readonly location?: string;
    }
  | { readonly kind: 'enable'; readonly resumable: false; readonly location?: string };

const POSITIVE_INTEGER = /^[0-9]+$/;

/** §1.2: the `resume` attribute is an xs:boolean; only `true`/`1` ask for resumption. */
function asksResume(value: string | undefined): boolean {
  return value === 'true' || value === '1';
}

/** §1.2, §7.18: a client `max` counts only as a positive integer; 0, negative or non-integer is ignored. */
function clientMax(value: string | undefined): number | undefined {
  if (value === undefined || !POSITIVE_INTEGER.test(value)) return undefined;
  const max = Number(value);
  return max > 0 ? max : undefined;
}

/**
 * Decide an `<enable/>` (spec §1.4, first matching row wins; then §1.2 and §1.6 for what is granted).
 * Pure: the SM-ID and the durable registration are the caller's.
 */
export function decideEnable(
  stream: SmStreamSnapshot,
  attrs: SmAttrs,
  options: EnableOptions = {},
): SmFailed | EnableDecision {
  // §1.4 row 1, §1.6: before authentication (s2s: before a verified domain pair), or SM not offered on s2s.
  if (!isStreamAuthenticated(stream) || (stream.s2s && !stream.enabledS2s)) {
    return failed('service-unavailable');
  }
  // §1.4 row 3: a second `<enable/>` (also after a resume) is `<failed/>`, not a stream error.
  if (stream.smEnabled) return failed('unexpected-request');
  // §1.4 row 4: c2s needs a bound resource; s2s streams have no binding (§1.6).
  if (!stream.s2s && !stream.bound) return failed('unexpected-request');

  const location = options.location === undefined ? {} : { location: options.location };
  // §1.2: `hibernation_time_s = 0` disables resumption; §1.6: s2s is never resumable.
  if (!asksResume(attrs.resume) || stream.s2s || stream.hibernationTimeS <= 0) {
    return { kind: 'enable', resumable: false, ...location };
  }
  // §1.2 [ours]: effective window = min(client max, hibernation_time_s).
  const requested = clientMax(attrs.max);
  const max =
    requested === undefined ? stream.hibernationTimeS : Math.min(requested, stream.hibernationTimeS);
  return { kind: 'enable', resumable: true, max, ...location };
}

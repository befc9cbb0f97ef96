/**
 * Spec §6 `sm.hibernation.set_deadline`: a push service may move a hibernating session's deadline, but
 * never beyond `max(hibernation_started + push_max_hibernation_s, now + hibernation_time_s)`. A
 * requested deadline beyond that is clamped to it; an earlier one (even a past one) is taken as asked.
 */
export function boundDeadline(input: {
  readonly requested: Date;
  readonly hibernatedAt: Date;
  readonly now: Date;
  readonly hibernationTimeS: number;
  readonly pushMaxHibernationS: number;
}): Date {
  const limit = Math.max(
    input.hibernatedAt.getTime() + input.pushMaxHibernationS * 1000,
    input.now.getTime() + input.hibernationTimeS * 1000,
  );
  return new Date(Math.min(input.requested.getTime(), limit));
}

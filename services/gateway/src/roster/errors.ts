export type RosterErrorCode = 'HF_ROSTER_UPDATE_CONFLICT';

/** Errors of the roster component, each with a stable `code`. */
export class RosterError extends Error {
  override readonly name: string = 'RosterError';

  constructor(
    readonly code: RosterErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Every attempt to change one item met another writer's change first. Transient: the stanza may be
 * answered with `wait`/`resource-constraint`, or processed again later.
 */
export class RosterUpdateConflictError extends RosterError {
  override readonly name = 'RosterUpdateConflictError';

  constructor(
    readonly owner: string,
    readonly contact: string,
    readonly attempts: number,
    options?: ErrorOptions,
  ) {
    super(
      'HF_ROSTER_UPDATE_CONFLICT',
      `roster item ${contact} of ${owner}: ${attempts} conflicting attempts`,
      options,
    );
  }
}

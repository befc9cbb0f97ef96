import { StoreUnavailableError, isTransient } from './errors.js';

export interface RetryLogger {
  warn(fields: object, message: string): void;
}

export interface RetryOptions {
  /** Give up after this long (default 30 s), then raise StoreUnavailableError. */
  readonly budgetMs?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
}

/**
 * Runs `operation` again while it fails with a transient error (network, failover, shutdown), with
 * exponential backoff, for at most `budgetMs`. Anything else is thrown at once. The operation must be
 * idempotent: a write whose reply was lost may already have been applied.
 */
export async function withRetry<T>(
  what: string,
  operation: () => Promise<T>,
  logger: RetryLogger,
  { budgetMs = 30_000, baseDelayMs = 50, maxDelayMs = 2000 }: RetryOptions = {},
): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isTransient(error)) throw error;
      const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
      if (Date.now() + delay > deadline) throw new StoreUnavailableError(what, { cause: error });
      logger.warn({ err: error, attempt, delayMs: delay, what }, 'transient store error; retrying');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

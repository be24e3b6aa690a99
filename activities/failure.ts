/**
 * The one choke point where errors leave an activity: BackfillFailure becomes an ApplicationFailure
 * of the same type, non-retryable when retrying cannot help; anything else stays retryable.
 */
import { ApplicationFailure } from '@temporalio/common';
import { isBackfillFailure, nonRetryableErrorTypes } from '../contracts/errors';

export function toApplicationFailure(e: unknown): unknown {
  if (e instanceof ApplicationFailure) return e;
  if (isBackfillFailure(e)) {
    return ApplicationFailure.create({
      type: e.code,
      message: e.message,
      nonRetryable: nonRetryableErrorTypes.includes(e.code),
      details: [e.details],
    });
  }
  return e;
}

/** Wraps every activity of a factory so each one throws vocabulary types only. */
export function withFailureTranslation<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  activities: T,
): T {
  const wrapped = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (e) {
        throw toApplicationFailure(e);
      }
    };
  }
  return wrapped as T;
}

